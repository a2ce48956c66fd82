/**
 * An in-memory copy of a KV bucket kept current by a watch: what the safety gate and the pre-send gate read
 * kill switches, pauses, escalation holds and consent from, without a KV request per decision. A change
 * anywhere in the cluster reaches every process within milliseconds (the watch is an ordered push consumer
 * that survives reconnects). Values are JSON (or msgpack) objects; anything else is ignored with a warning.
 */
import type { KV } from '@nats-io/kv';
import type { SnapshotView } from '../contracts/conversation/gate.js';
import { decodeBody } from '../envelope/codec.js';
import type { Logger } from '../obs/logger.js';

export class KvSnapshot implements SnapshotView {
  readonly bucket: string;
  readonly #values = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #listeners = new Set<(key: string) => void>();
  #stop: (() => void) | undefined;

  private constructor(bucket: string) {
    this.bucket = bucket;
  }

  /** Opens the watch and resolves once the bucket's current values are loaded. */
  static async open(kv: KV, bucket: string, log: Logger): Promise<KvSnapshot> {
    const snap = new KvSnapshot(bucket);
    const status = await kv.status();
    const watch = await kv.watch({ key: '>' });
    snap.#stop = () => watch.stop();
    let ready: () => void = () => {};
    const loaded = new Promise<void>((resolve) => {
      ready = resolve;
    });
    if (status.values === 0) ready();
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT' && e.length > 0) {
          try {
            const v = decodeBody(e.value);
            if (v && typeof v === 'object' && !Array.isArray(v))
              snap.#values.set(e.key, v as Record<string, unknown>);
            else log.warn({ bucket, key: e.key }, 'ignoring a non-object value');
          } catch (err) {
            log.warn({ bucket, key: e.key, err }, 'ignoring an undecodable value');
          }
        } else {
          snap.#values.delete(e.key);
        }
        for (const l of snap.#listeners) l(e.key);
        if (e.isUpdate || e.delta === 0) ready();
      }
    })().catch((err: unknown) => log.error({ bucket, err }, 'watch ended'));
    await loaded;
    return snap;
  }

  get(key: string): Readonly<Record<string, unknown>> | undefined {
    return this.#values.get(key);
  }

  get size(): number {
    return this.#values.size;
  }

  /** Called after every change (tests, metrics). */
  onChange(fn: (key: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  stop(): void {
    this.#stop?.();
  }
}
