/**
 * The timer index over KV bucket `parley-timers`: key `p<partition>.<tenant>.<conversation>`, value JSON
 * `{ "at": <ms>, "due": "<ISO time>" }` (readable with `nats kv get parley-timers p7.acme.c1`). Listing a
 * partition reads the last value of every key under `p<n>.>` with an ordered consumer (one filter subject:
 * works on nats-server 2.9). Deleted keys are skipped.
 */

import { DeliverPolicy } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { BUCKETS } from '../contracts/names.js';
import type { TimerIndex } from '../runtime/timer-wheel.js';
import type { NatsHandles } from './connection.js';
import { kvStreamName } from './provision.js';

export const TIMERS_BUCKET = BUCKETS.timers;

export function timerKey(partition: number, key: string): string {
  return `p${partition}.${key}`;
}

const decoder = new TextDecoder();

/** Longest a partition's timer index may take to read. */
const LIST_TIMEOUT_MS = 10_000;

export class KvTimerIndex implements TimerIndex {
  readonly #h: NatsHandles;
  readonly #kv: KV;
  readonly #bucket: string;

  constructor(handles: NatsHandles, kv: KV, bucket = TIMERS_BUCKET) {
    this.#h = handles;
    this.#kv = kv;
    this.#bucket = bucket;
  }

  static async open(handles: NatsHandles, bucket = TIMERS_BUCKET): Promise<KvTimerIndex> {
    return new KvTimerIndex(handles, await handles.kvm.open(bucket), bucket);
  }

  async put(partition: number, key: string, at: number): Promise<void> {
    await this.#kv.put(timerKey(partition, key), JSON.stringify({ at, due: new Date(at).toISOString() }));
  }

  async remove(partition: number, key: string): Promise<void> {
    await this.#kv.delete(timerKey(partition, key));
  }

  async list(partition: number): Promise<Array<{ key: string; at: number }>> {
    const prefix = `$KV.${this.#bucket}.`;
    const consumer = await this.#h.js.consumers.get(kvStreamName(this.#bucket), {
      filter_subjects: `${prefix}p${partition}.>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const info = await consumer.info(true);
    if (info.num_pending === 0) {
      await consumer.delete().catch(() => undefined);
      return [];
    }
    const out: Array<{ key: string; at: number }> = [];
    const messages = await consumer.consume();
    // Bounded: an ordered consumer can wait for ever when its bucket's server goes away mid-read (seen
    // after a cluster node loss); the partition's acquisition fails and is retried instead.
    const timer = setTimeout(
      () =>
        messages.stop(
          new Error(`reading the timer index of partition ${partition} took over ${LIST_TIMEOUT_MS} ms`),
        ),
      LIST_TIMEOUT_MS,
    );
    try {
      for await (const m of messages) {
        const op = m.headers?.get('KV-Operation');
        if (op !== 'DEL' && op !== 'PURGE' && m.data.length > 0) {
          const key = m.subject.slice(prefix.length + `p${partition}.`.length);
          const at = Number((JSON.parse(decoder.decode(m.data)) as { at?: unknown }).at);
          if (Number.isFinite(at)) out.push({ key, at });
        }
        if (m.info.pending === 0) break;
      }
    } finally {
      clearTimeout(timer);
      void messages.close().catch(() => undefined);
    }
    return out;
  }
}
