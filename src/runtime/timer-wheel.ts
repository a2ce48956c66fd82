/**
 * Durable wake-ups for conversations (the runtime side of journey delays, wait timeouts, delayed actions
 * and inactivity detectors). An actor's `wake` effect is written to the partition's timer index (KV
 * `parley-timers`, key `p<partition>.<tenant>.<conversation>`, so one partition's entries list with
 * `p<n>.>` on nats-server 2.9) before its state commit, then kept here in a min-heap. When an entry is
 * due and its partition is owned, a `timer.wake` event is published into EVENTS for the conversation with
 * a deterministic ID (conversation + due time); the actor fires whatever is due and re-arms its next one.
 *
 * What must stay true:
 *   - acquiring a partition reloads its entries from the index (a restart spanning the due time fires
 *     after it, once: a repeated wake lands in the duplicate window, or finds nothing due and is ignored);
 *   - only owned partitions publish; a lost partition's entries are dropped from memory (the index keeps
 *     them for the next owner);
 *   - a failed publish is retried with backoff, never dropped.
 */

import type { Clock, Publisher } from '../contracts/ports.js';
import type { Logger } from '../obs/logger.js';
import { backoffDelay } from '../util/backoff.js';
import type { WakeScheduler } from './actor-cell.js';
import { wakeMessage } from './outbound.js';

/** The durable index of wake-ups (implemented over KV in src/nats/timer-index.ts). */
export interface TimerIndex {
  put(partition: number, key: string, at: number): Promise<void>;
  remove(partition: number, key: string): Promise<void>;
  /** Every entry of a partition: conversation key (`<tenant>.<conversation>`) and due time in ms. */
  list(partition: number): Promise<Array<{ key: string; at: number }>>;
}

export interface TimerWheelOptions {
  index: TimerIndex;
  publisher: Publisher;
  clock: Clock;
  log: Logger;
  /** How often due entries are looked for, in ms; default 200. */
  tickMs?: number;
  /** Wake-ups published per tick at most; default 500. */
  batch?: number;
  onFired?: (count: number) => void;
}

interface Entry {
  /** Due time: what the wake event carries. */
  at: number;
  /** When to try publishing it (the due time, or later after a failed publish): the heap's order. */
  fireAt: number;
  partition: number;
  key: string;
  attempts: number;
}

export class TimerWheel {
  readonly #o: TimerWheelOptions;
  /** partition -> conversation key -> entry (the authoritative in-memory view). */
  readonly #entries = new Map<number, Map<string, Entry>>();
  readonly #owned = new Map<number, () => boolean>();
  /** Min-heap by `at`, with lazy deletion: an item is live only if it is the entry in #entries. */
  readonly #heap: Entry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;

  constructor(options: TimerWheelOptions) {
    this.#o = options;
  }

  get size(): number {
    let n = 0;
    for (const m of this.#entries.values()) n += m.size;
    return n;
  }

  /** The scheduler an actor host of `partition` hands to its actors. */
  forPartition(partition: number, owned: () => boolean): WakeScheduler {
    this.#owned.set(partition, owned);
    return {
      record: (key, at) =>
        at === null ? this.#o.index.remove(partition, key) : this.#o.index.put(partition, key, at),
      scheduled: (key, at) => this.#set(partition, key, at),
    };
  }

  /** Rebuilds a partition's schedule from the index (on acquisition). Returns the number of entries. */
  async load(partition: number): Promise<number> {
    const entries = await this.#o.index.list(partition);
    for (const e of entries) this.#set(partition, e.key, e.at);
    return entries.length;
  }

  /** Forgets a partition that is no longer owned (its index entries stay for the next owner). */
  drop(partition: number): void {
    this.#entries.delete(partition);
    this.#owned.delete(partition);
  }

  /** Due time scheduled for a conversation, if any (tests and status). */
  dueOf(partition: number, key: string): number | undefined {
    return this.#entries.get(partition)?.get(key)?.at;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs ?? 200);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #set(partition: number, key: string, at: number | null): void {
    let m = this.#entries.get(partition);
    if (at === null) {
      m?.delete(key);
      return;
    }
    if (!m) {
      m = new Map();
      this.#entries.set(partition, m);
    }
    const entry: Entry = { at, fireAt: at, partition, key, attempts: 0 };
    m.set(key, entry);
    this.#push(entry);
  }

  #live(e: Entry): boolean {
    return this.#entries.get(e.partition)?.get(e.key) === e;
  }

  /** Publishes the wake-ups that are due. Safe to call directly (tests); overlapping calls are skipped. */
  async tick(): Promise<number> {
    if (this.#ticking) return 0;
    this.#ticking = true;
    try {
      const now = this.#o.clock.now();
      const due: Entry[] = [];
      const limit = this.#o.batch ?? 500;
      while (this.#heap.length > 0 && this.#heap[0]!.fireAt <= now && due.length < limit) {
        const e = this.#pop()!;
        if (!this.#live(e)) continue;
        if (!(this.#owned.get(e.partition)?.() ?? false)) continue;
        due.push(e);
      }
      if (due.length === 0) return 0;
      const results = await Promise.allSettled(
        due.map((e) => {
          const dot = e.key.indexOf('.');
          return this.#o.publisher.publish(wakeMessage(e.key.slice(0, dot), e.key.slice(dot + 1), e.at));
        }),
      );
      let fired = 0;
      results.forEach((r, i) => {
        const e = due[i]!;
        if (r.status === 'fulfilled') {
          // The actor re-arms its next wake-up when it processes this one.
          if (this.#live(e)) this.#entries.get(e.partition)!.delete(e.key);
          fired++;
          return;
        }
        const attempts = e.attempts + 1;
        const delay = backoffDelay(attempts, 100, 5000);
        this.#o.log.warn(
          { partition: e.partition, conversation: e.key, attempt: attempts, delayMs: delay, err: r.reason },
          'timer wake-up could not be published; retrying',
        );
        if (this.#live(e)) {
          // Same due time (the actor knows it), tried again later.
          const retry: Entry = { ...e, fireAt: now + delay, attempts };
          this.#entries.get(e.partition)!.set(e.key, retry);
          this.#push(retry);
        }
      });
      this.#o.onFired?.(fired);
      return fired;
    } finally {
      this.#ticking = false;
    }
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.fireAt <= h[i]!.fireAt) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.fireAt < h[m]!.fireAt) m = l;
        if (r < h.length && h[r]!.fireAt < h[m]!.fireAt) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
