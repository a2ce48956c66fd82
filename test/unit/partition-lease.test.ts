import t from 'tap';
import { createLogger } from '../../src/obs/logger.js';
import { type LeaseRecord, leaseKey, PartitionLease } from '../../src/runtime/partition-lease.js';
import { flush, ManualClock, MemoryStore } from '../helpers/fakes.js';

const TTL = 6000;

function lease(store: MemoryStore<LeaseRecord>, clock: ManualClock, owner: string) {
  const lost: string[] = [];
  const l = new PartitionLease({
    store,
    partition: 3,
    owner,
    ttlMs: TTL,
    clock,
    log: createLogger({ level: 'silent' }),
    onLost: (r) => lost.push(r),
  });
  return { l, lost };
}

t.test('partition-lease - a free lease is taken at once and renewed', async (t) => {
  const clock = new ManualClock();
  const store = new MemoryStore<LeaseRecord>();
  const a = lease(store, clock, 'A');
  const replaced = await a.l.acquire(() => false);
  t.equal(replaced, undefined);
  t.equal(a.l.status(), 'owned');
  t.equal(store.data.get(leaseKey(3))!.value.owner, 'A');
  t.equal(a.l.epoch, 1);
  await a.l.release();
});

t.test(
  'partition-lease - taking over a live lease waits a full ttl, and the old holder learns it lost',
  async (t) => {
    const clock = new ManualClock();
    const store = new MemoryStore<LeaseRecord>();
    const a = lease(store, clock, 'A');
    await a.l.acquire(() => false);
    const b = lease(store, clock, 'B');
    let bReady = false;
    const taking = b.l
      .acquire(() => false)
      .then((prev) => {
        bReady = true;
        return prev;
      });
    await flush();
    t.equal(bReady, false, 'B waits');
    await clock.advance(TTL - 1);
    t.equal(bReady, false, 'still waiting just before the ttl');
    t.equal(a.l.status(), 'lost', 'A saw its renewal lose the CAS long before B starts');
    t.match(a.lost[0], /taken over by B/);
    await clock.advance(1);
    t.equal(await taking, 'A');
    t.equal(b.l.status(), 'owned');
    t.equal(b.l.epoch, 2);
    await b.l.release();
  },
);

t.test('partition-lease - late renewals make the holder unsure (commits wait) but not lost', async (t) => {
  const clock = new ManualClock();
  const store = new MemoryStore<LeaseRecord>();
  const a = lease(store, clock, 'A');
  await a.l.acquire(() => false);
  store.failNext = 1000;
  // Renewals are driven by a real interval timer; with the manual clock only status() is observed here.
  await clock.advance(TTL / 2);
  t.equal(a.l.status(), 'unsure', 'past ttl/2 without a renewal: unsure');
  t.same(a.lost, [], 'not lost: a failure is not a lost CAS');
  await a.l.release();
});

t.test('partition-lease - a released lease is taken without waiting', async (t) => {
  const clock = new ManualClock();
  const store = new MemoryStore<LeaseRecord>();
  const a = lease(store, clock, 'A');
  await a.l.acquire(() => false);
  await a.l.release();
  const b = lease(store, clock, 'B');
  t.equal(await b.l.acquire(() => false), undefined, 'no previous owner to wait for');
  t.equal(b.l.status(), 'owned');
  await b.l.release();
});
