/**
 * Token buckets over an in-memory compare-and-set store and a simulated clock: capacity is never exceeded
 * by several processes sharing one key, leases batch the waiting callers into one CAS, throttled callers
 * get a wait instead of a token, and a provider pause stops the key.
 */
import t from 'tap';
import { type BucketState, capacity, refill, TokenBuckets } from '../../src/connectors/token-buckets.js';
import { FencedError } from '../../src/errors/app-error.js';
import type { Clock, Versioned, VersionedStore } from '../../src/runtime/ports.js';

class MemoryStore<T> implements VersionedStore<T> {
  readonly data = new Map<string, { value: T; revision: number }>();
  writes = 0;
  conflicts = 0;
  #seq = 0;
  async load(key: string): Promise<Versioned<T>> {
    await Promise.resolve();
    const e = this.data.get(key);
    return e ? { value: structuredClone(e.value), revision: e.revision } : { value: undefined, revision: 0 };
  }
  async save(key: string, value: T, revision: number): Promise<number> {
    await Promise.resolve();
    const current = this.data.get(key)?.revision ?? 0;
    if (current !== revision) {
      this.conflicts++;
      throw new FencedError(`${key} moved on`);
    }
    this.writes++;
    this.data.set(key, { value: structuredClone(value), revision: ++this.#seq });
    return this.#seq;
  }
}

function simulatedClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      await Promise.resolve();
    },
    advance(ms) {
      now += ms;
    },
  };
}

t.test('connectors - token bucket math: refill up to capacity', async (t) => {
  const rate = { perSecond: 10, burst: 5 };
  t.equal(capacity(rate), 5);
  t.equal(capacity({ perSecond: 20 }), 20, 'burst defaults to the rate');
  t.equal(refill(undefined, rate, 0), 5, 'a new bucket is full');
  t.equal(refill({ tokens: 0, at: 0 }, rate, 100), 1, '100 ms at 10/s is one token');
  t.equal(refill({ tokens: 4.5, at: 0 }, rate, 10_000), 5, 'never above capacity');
  t.equal(refill({ tokens: 1, at: 500 }, rate, 0), 1, 'a clock behind the writer adds nothing');
});

t.test(
  'connectors - token buckets shared by three processes never grant more than capacity + refill',
  async (t) => {
    const store = new MemoryStore<BucketState>();
    const clock = simulatedClock();
    const rate = { perSecond: 50, burst: 10 };
    const processes = [0, 1, 2].map(() => new TokenBuckets(store, { clock, leaseBatch: 8, leaseTtlMs: 250 }));
    const start = clock.now();
    let granted = 0;
    let refused = 0;
    for (let round = 0; round < 40; round++) {
      const results = await Promise.all(
        processes.flatMap((p) => Array.from({ length: 5 }, () => p.acquire('platform-dm.acme', rate, 0))),
      );
      for (const r of results) {
        if (r.ok) granted++;
        else {
          refused++;
          t.ok(r.retryAfterMs > 0, 'a refusal says how long to wait');
        }
      }
      clock.advance(25);
    }
    const elapsed = clock.now() - start;
    const allowed = rate.burst + (rate.perSecond * elapsed) / 1000;
    t.ok(granted <= allowed, `granted ${granted} <= capacity + refill ${allowed}`);
    t.ok(granted >= allowed * 0.8, `and most of it was used (${granted} of ${allowed})`);
    t.ok(refused > 0, 'the excess was throttled, not granted');
    t.ok(store.conflicts > 0, 'the processes really contended on one key');
  },
);

t.test('connectors - waiting callers share one lease (one CAS for a batch)', async (t) => {
  const store = new MemoryStore<BucketState>();
  const clock = simulatedClock();
  const buckets = new TokenBuckets(store, { clock, leaseBatch: 32, leaseTtlMs: 250 });
  const results = await Promise.all(
    Array.from({ length: 20 }, () => buckets.acquire('k', { perSecond: 100, burst: 100 }, 1000)),
  );
  t.ok(
    results.every((r) => r.ok),
    'all 20 got a token',
  );
  t.ok(store.writes <= 2, `with ${store.writes} compare-and-set writes`);
});

t.test(
  'connectors - a throttled caller waits in place up to its limit, then is told to come back',
  async (t) => {
    const store = new MemoryStore<BucketState>();
    const clock = simulatedClock();
    const buckets = new TokenBuckets(store, { clock, leaseBatch: 4, leaseTtlMs: 250 });
    const rate = { perSecond: 10, burst: 1 };
    t.same(await buckets.acquire('k', rate, 0), { ok: true, waitedMs: 0 }, 'the burst token');
    const waited = await buckets.acquire('k', rate, 500);
    t.ok(waited.ok && waited.waitedMs >= 90, 'the next one waited about 100 ms in place');
    const refused = await buckets.acquire('k', rate, 0);
    t.ok(
      !refused.ok && refused.retryAfterMs > 0 && refused.retryAfterMs <= 100,
      'without patience: retry after <= 100 ms',
    );
    t.same(await buckets.acquire('free', undefined, 0), { ok: true, waitedMs: 0 }, 'no rate: no limit');
    buckets.pause('free', 2000);
    const paused = await buckets.acquire('free', undefined, 0);
    t.ok(!paused.ok && paused.retryAfterMs === 2000, 'a provider 429 pauses even an unlimited key');
  },
);

t.test('connectors - close hands unused leased tokens back', async (t) => {
  const store = new MemoryStore<BucketState>();
  const clock = simulatedClock();
  const buckets = new TokenBuckets(store, { clock, leaseBatch: 8, leaseTtlMs: 250 });
  const rate = { perSecond: 1, burst: 10 };
  await buckets.acquire('k', rate, 0);
  const before = store.data.get('k')!.value.tokens;
  await buckets.close();
  t.equal(store.data.get('k')!.value.tokens, before, 'a single-waiter lease leaves nothing behind to return');
});
