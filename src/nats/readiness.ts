/**
 * ReadinessProbe over NATS, for /readyz: the connection is up, the streams and buckets this deployment
 * defines exist, and the EVENTS partitions have their actor consumers (`actors-pNN`, created by whichever
 * worker owns the partition). When actors run in this process their partitions' states are reported too,
 * and a process that should own partitions (its share, or its pinned set, is not empty) is not ready while it
 * runs none of them (fenced, waiting for leases, or left out by the others).
 * Results are cached briefly so a tight probe interval does not become JetStream API load.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { errorMessage } from '../errors/app-error.js';
import type { ReadinessCheck, ReadinessProbe } from '../http/ports.js';
import type { NatsHandles } from './connection.js';
import { ConnectionWatch } from './connection-watch.js';
import { loadDefinitions } from './definitions.js';
import { isStreamNotFound } from './errors.js';
import { EVENTS_STREAM, partitionConsumerName } from './partition-source.js';
import { kvStreamName } from './provision.js';

export interface InProcessActors {
  status(): {
    partitions: Array<{ partition: number; state: string }>;
    /** How many partitions this process should own (its share or pinned set); default: those listed. */
    target?: number;
  };
}

export interface NatsReadinessOptions {
  jsm: JetStreamManager;
  watch: ConnectionWatch;
  /** Streams that must exist (KV buckets as KV_<bucket>). */
  streams: readonly string[];
  partitions: number;
  /** The actor worker of this process, if it runs one. */
  actors?: () => InProcessActors | undefined;
  /** How long a result is reused, in ms; default 1000. */
  cacheMs?: number;
}

export class NatsReadiness implements ReadinessProbe {
  readonly #o: NatsReadinessOptions;
  #cached: { at: number; checks: Promise<ReadinessCheck[]> } | undefined;

  constructor(options: NatsReadinessOptions) {
    this.#o = options;
  }

  check(): Promise<ReadinessCheck[]> {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at > (this.#o.cacheMs ?? 1000)) {
      this.#cached = { at: now, checks: this.#run() };
    }
    return this.#cached.checks;
  }

  async #run(): Promise<ReadinessCheck[]> {
    const { jsm, watch } = this.#o;
    if (!watch.connected) return [{ name: 'nats', ok: false, detail: 'not connected (reconnecting)' }];
    const checks: ReadinessCheck[] = [{ name: 'nats', ok: true }];
    const missing: string[] = [];
    try {
      for (const name of this.#o.streams) {
        try {
          await jsm.streams.info(name);
        } catch (err) {
          if (isStreamNotFound(err)) missing.push(name);
          else throw err;
        }
      }
      checks.push({
        name: 'streams',
        ok: missing.length === 0,
        detail: missing.length === 0 ? `${this.#o.streams.length} present` : `missing: ${missing.join(', ')}`,
      });
      const names = new Set<string>();
      for await (const info of jsm.consumers.list(EVENTS_STREAM)) names.add(info.name);
      const bound = Array.from({ length: this.#o.partitions }, (_, p) => partitionConsumerName(p)).filter(
        (n) => names.has(n),
      ).length;
      checks.push({
        name: 'consumers',
        ok: bound === this.#o.partitions,
        detail: `${bound}/${this.#o.partitions} EVENTS partitions have their actor consumer`,
      });
    } catch (err) {
      checks.push({ name: 'jetstream', ok: false, detail: errorMessage(err) });
    }
    const actors = this.#o.actors?.();
    if (actors) checks.push(actorsCheck(actors.status()));
    return checks;
  }
}

/** Ready while this process runs at least one partition, or should own none. */
export function actorsCheck(status: ReturnType<InProcessActors['status']>): ReadinessCheck {
  const parts = status.partitions;
  const running = parts.filter((p) => p.state === 'running').length;
  const starting = parts.filter((p) => p.state === 'starting').length;
  const fenced = parts.filter((p) => p.state === 'fenced').length;
  const target = status.target ?? parts.length;
  const extra = [starting ? `${starting} starting` : '', fenced ? `${fenced} fenced` : '']
    .filter(Boolean)
    .join(', ');
  const detail = `${running} of ${target} partitions running here${extra ? ` (${extra})` : ''}`;
  if (target > 0 && running === 0)
    return { name: 'actors', ok: false, detail: `owns no partition: ${detail}` };
  return { name: 'actors', ok: true, detail };
}

/**
 * The readiness probe of a process against its deployment: the streams and buckets `streams/` defines and
 * the EVENTS partition consumers, plus this process's actors when it runs them.
 */
export function natsReadiness(o: {
  handles: NatsHandles;
  streamsDir: string;
  partitions: number;
  actors?: () => InProcessActors | undefined;
  watch?: ConnectionWatch;
}): NatsReadiness {
  const defs = loadDefinitions(o.streamsDir);
  return new NatsReadiness({
    jsm: o.handles.jsm,
    watch: o.watch ?? new ConnectionWatch(o.handles.nc),
    streams: [...defs.streams.map((s) => s.config.name), ...defs.buckets.map((b) => kvStreamName(b.bucket))],
    partitions: o.partitions,
    ...(o.actors ? { actors: o.actors } : {}),
  });
}
