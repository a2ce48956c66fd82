/**
 * Token buckets per (provider, account), shared by every connector process through the parley-tokens KV
 * bucket (one key `<channel>.<account>`, written with compare-and-set).
 *
 * What must stay true:
 * - Capacity is never exceeded: tokens leave the shared bucket only through a CAS on the revision the
 *   refill was computed from, so concurrent takers cannot spend the same token.
 * - A hot key does not serialize: one CAS leases up to `leaseBatch` tokens for the callers waiting here;
 *   tokens not used within `leaseTtlMs` expire locally (never saved up into a later burst), and `close()`
 *   hands unused ones back.
 * - A throttled caller is told how long to wait (`retryAfterMs`); the caller delays, it never drops.
 * - A provider's own 429 pauses the key locally for its Retry-After (`pause()`).
 */

import type { Clock, VersionedStore } from '../contracts/ports.js';
import { FencedError } from '../errors/app-error.js';

/** The stored bucket: tokens available at `at` (ms). Refill is computed, never stored ahead. */
export interface BucketState {
  tokens: number;
  at: number;
}

export interface Rate {
  perSecond: number;
  burst?: number;
}

export type Acquired = { ok: true; waitedMs: number } | { ok: false; retryAfterMs: number };

export interface TokenBucketsOptions {
  clock: Clock;
  /** Most tokens one CAS takes. */
  leaseBatch: number;
  /** Leased tokens expire locally after this many ms. */
  leaseTtlMs: number;
  onLease?: (key: string, outcome: 'granted' | 'empty' | 'conflict', tokens: number) => void;
}

interface Waiter {
  deadline: number;
  since: number;
  resolve: (a: Acquired) => void;
}

interface LocalBucket {
  rate: Rate;
  tokens: number;
  expiresAt: number;
  pausedUntil: number;
  waiters: Waiter[];
  pumping: boolean;
  cached: { state: BucketState; revision: number } | undefined;
}

export function capacity(rate: Rate): number {
  return rate.burst ?? Math.max(1, Math.floor(rate.perSecond));
}

/** Tokens in a bucket at `now`, refilled at `perSecond` up to capacity. */
export function refill(state: BucketState | undefined, rate: Rate, now: number): number {
  const cap = capacity(rate);
  if (!state) return cap;
  const elapsed = Math.max(0, now - state.at);
  return Math.min(cap, state.tokens + (elapsed * rate.perSecond) / 1000);
}

export class TokenBuckets {
  readonly #store: VersionedStore<BucketState>;
  readonly #o: TokenBucketsOptions;
  readonly #local = new Map<string, LocalBucket>();
  #closed = false;

  constructor(store: VersionedStore<BucketState>, options: TokenBucketsOptions) {
    this.#store = store;
    this.#o = options;
  }

  #bucket(key: string, rate: Rate): LocalBucket {
    let b = this.#local.get(key);
    if (!b) {
      b = { rate, tokens: 0, expiresAt: 0, pausedUntil: 0, waiters: [], pumping: false, cached: undefined };
      this.#local.set(key, b);
    }
    b.rate = rate;
    return b;
  }

  /**
   * One token of `key`, waiting here up to `maxWaitMs`. Without a rate only a provider pause applies.
   * Resolves `{ ok: false, retryAfterMs }` when the wait would be longer.
   */
  acquire(key: string, rate: Rate | undefined, maxWaitMs: number): Promise<Acquired> | Acquired {
    const now = this.#o.clock.now();
    const b = this.#local.get(key);
    if (!rate) {
      const paused = (b?.pausedUntil ?? 0) - now;
      return paused > 0 ? { ok: false, retryAfterMs: paused } : { ok: true, waitedMs: 0 };
    }
    const bucket = b ?? this.#bucket(key, rate);
    bucket.rate = rate;
    if (bucket.pausedUntil > now) return { ok: false, retryAfterMs: bucket.pausedUntil - now };
    if (bucket.waiters.length === 0 && bucket.tokens >= 1 && now < bucket.expiresAt) {
      bucket.tokens -= 1;
      return { ok: true, waitedMs: 0 };
    }
    return new Promise<Acquired>((resolve) => {
      bucket.waiters.push({ deadline: now + maxWaitMs, since: now, resolve });
      void this.#pump(key, bucket);
    });
  }

  /** The provider said "wait" (429 + Retry-After): nobody here takes a token of `key` before then. */
  pause(key: string, ms: number): void {
    const b = this.#local.get(key) ?? this.#bucket(key, { perSecond: 1 });
    b.pausedUntil = Math.max(b.pausedUntil, this.#o.clock.now() + ms);
    b.tokens = 0;
  }

  #serve(b: LocalBucket, now: number): void {
    if (now >= b.expiresAt) b.tokens = 0;
    while (b.waiters.length > 0 && b.tokens >= 1) {
      b.tokens -= 1;
      const w = b.waiters.shift()!;
      w.resolve({ ok: true, waitedMs: now - w.since });
    }
  }

  /** Refuses every waiter that cannot be served within its deadline. */
  #refuse(b: LocalBucket, now: number, nextInMs: number): void {
    // Waiter i gets a token roughly (i + 1) / perSecond after the next one.
    const step = 1000 / b.rate.perSecond;
    const keep: Waiter[] = [];
    b.waiters.forEach((w, i) => {
      const eta = now + nextInMs + i * step;
      if (eta > w.deadline) w.resolve({ ok: false, retryAfterMs: Math.ceil(eta - now) });
      else keep.push(w);
    });
    b.waiters = keep;
  }

  async #pump(key: string, b: LocalBucket): Promise<void> {
    if (b.pumping) return;
    b.pumping = true;
    try {
      while (b.waiters.length > 0 && !this.#closed) {
        let now = this.#o.clock.now();
        this.#serve(b, now);
        if (b.waiters.length === 0) break;
        if (b.pausedUntil > now) {
          this.#refuse(b, now, b.pausedUntil - now);
          continue;
        }
        const want = Math.min(this.#o.leaseBatch, b.waiters.length);
        let granted = 0;
        let nextInMs = 0;
        try {
          ({ granted, nextInMs } = await this.#lease(key, b, want));
        } catch (err) {
          // KV unavailable: tell the waiters to come back later rather than block them.
          for (const w of b.waiters.splice(0)) w.resolve({ ok: false, retryAfterMs: 1000 });
          throw err;
        }
        now = this.#o.clock.now();
        if (granted > 0) {
          b.tokens += granted;
          b.expiresAt = now + this.#o.leaseTtlMs;
          this.#serve(b, now);
          continue;
        }
        this.#refuse(b, now, nextInMs);
        if (b.waiters.length > 0) await this.#o.clock.sleep(Math.max(1, Math.min(nextInMs, 1000)));
      }
    } catch {
      // Reported to the waiters above; the next acquire pumps again.
    } finally {
      b.pumping = false;
    }
  }

  /** One CAS round: take up to `want` tokens from the shared bucket. */
  async #lease(key: string, b: LocalBucket, want: number): Promise<{ granted: number; nextInMs: number }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      if (!b.cached) {
        const loaded = await this.#store.load(key);
        b.cached = loaded.value ? { state: loaded.value, revision: loaded.revision } : undefined;
        if (!b.cached && loaded.revision > 0)
          b.cached = { state: { tokens: capacity(b.rate), at: 0 }, revision: loaded.revision };
      }
      const now = this.#o.clock.now();
      const available = refill(b.cached?.state, b.rate, now);
      const granted = Math.min(want, Math.floor(available));
      if (granted < 1) {
        this.#o.onLease?.(key, 'empty', 0);
        // The cache can only overstate what is left (others only take), so "empty" is safe to trust.
        return { granted: 0, nextInMs: Math.ceil(((1 - available) * 1000) / b.rate.perSecond) };
      }
      const state: BucketState = { tokens: available - granted, at: now };
      try {
        const revision = await this.#store.save(key, state, b.cached?.revision ?? 0);
        b.cached = { state, revision };
        this.#o.onLease?.(key, 'granted', granted);
        return { granted, nextInMs: 0 };
      } catch (err) {
        if (!(err instanceof FencedError)) throw err;
        this.#o.onLease?.(key, 'conflict', 0);
        b.cached = undefined;
      }
    }
    return { granted: 0, nextInMs: 50 };
  }

  /** Hands unexpired leased tokens back to their shared buckets (best effort) and stops pumping. */
  async close(): Promise<void> {
    this.#closed = true;
    const now = this.#o.clock.now();
    await Promise.all(
      [...this.#local.entries()].map(async ([key, b]) => {
        for (const w of b.waiters.splice(0)) w.resolve({ ok: false, retryAfterMs: 0 });
        const unused = now < b.expiresAt ? Math.floor(b.tokens) : 0;
        b.tokens = 0;
        if (unused < 1) return;
        for (let attempt = 0; attempt < 5; attempt++) {
          const { value, revision } = await this.#store.load(key);
          const t = this.#o.clock.now();
          const state = { tokens: Math.min(capacity(b.rate), refill(value, b.rate, t) + unused), at: t };
          try {
            await this.#store.save(key, state, revision);
            return;
          } catch (err) {
            if (!(err instanceof FencedError)) return;
          }
        }
      }),
    ).catch(() => undefined);
  }
}
