/**
 * PartitionBalancer rounds with an injected clock and in-memory KV: even shares, handover on join, expiry
 * of a silent member's leases, and a lost race for a free lease. The host here stands in for ActorWorker:
 * it writes the lease at the revision the balancer saw (as PartitionLease does) and renews what it holds.
 */
import t from 'tap';
import { FencedError } from '../../src/errors/app-error.js';
import { createLogger } from '../../src/obs/logger.js';
import { type Membership, PartitionBalancer } from '../../src/runtime/partition-balancer.js';
import { type LeaseRecord, leaseKey } from '../../src/runtime/partition-lease.js';
import { ManualClock, MemoryStore } from '../helpers/fakes.js';

const TTL = 4000;
const P = 12;

class Member {
  readonly owned = new Set<number>();
  readonly balancer: PartitionBalancer;
  handedOver = 0;

  constructor(
    readonly id: string,
    readonly leases: MemoryStore<LeaseRecord>,
    members: MemoryStore<Membership>,
    clock: ManualClock,
    pinned?: number[],
  ) {
    this.balancer = new PartitionBalancer({
      owner: id,
      partitions: P,
      leases,
      members,
      ttlMs: TTL,
      clock,
      log: createLogger({ level: 'silent' }),
      ...(pinned ? { pinned } : {}),
      host: {
        owned: () => [...this.owned],
        acquire: async (p, seen) => {
          try {
            await leases.save(
              leaseKey(p),
              { owner: id, epoch: (seen.value?.epoch ?? 0) + 1, renewedAt: 0 },
              seen.revision,
            );
          } catch (err) {
            if (err instanceof FencedError) return false;
            throw err;
          }
          this.owned.add(p);
          return true;
        },
        handOver: async (p) => {
          const l = await leases.load(leaseKey(p));
          await leases.save(leaseKey(p), { ...l.value!, released: true }, l.revision);
          this.owned.delete(p);
          this.handedOver++;
        },
      },
    });
  }

  /** A live member renews its leases (as PartitionLease does every ttl/4) and runs a round. */
  async round(): Promise<void> {
    for (const p of this.owned) {
      const l = await this.leases.load(leaseKey(p));
      if (l.value?.owner === this.id) await this.leases.save(leaseKey(p), { ...l.value }, l.revision);
    }
    await this.balancer.tick();
  }
}

function world() {
  const clock = new ManualClock();
  const leases = new MemoryStore<LeaseRecord>();
  const members = new MemoryStore<Membership>();
  const member = (id: string, pinned?: number[]) => new Member(id, leases, members, clock, pinned);
  return { clock, leases, members, member };
}

async function rounds(clock: ManualClock, live: Member[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const m of live) await m.round();
    await clock.advance(TTL / 4);
  }
}

t.test('partition-balancer - alone, a member takes every partition in its first round', async (t) => {
  const w = world();
  const a = w.member('a');
  await a.round();
  t.equal(a.owned.size, P);
  t.same(a.balancer.view.members, ['a']);
});

t.test('partition-balancer - a joiner gets an even share, handed over gracefully', async (t) => {
  const w = world();
  const a = w.member('a');
  await a.round();
  const b = w.member('b');
  const c = w.member('c');
  await rounds(w.clock, [a, b, c], 4);
  t.same([a.owned.size, b.owned.size, c.owned.size], [4, 4, 4], 'four each');
  t.equal(a.handedOver, 8, 'the first member handed eight partitions over');
  t.same(
    [...a.owned, ...b.owned, ...c.owned].sort((x, y) => x - y),
    Array.from({ length: P }, (_, i) => i),
    'every partition owned exactly once',
  );
});

t.test('partition-balancer - a silent member is pruned and its leases taken after a ttl', async (t) => {
  const w = world();
  const [a, b, c] = [w.member('a'), w.member('b'), w.member('c')];
  await rounds(w.clock, [a, b, c], 4);
  t.same([a.owned.size, b.owned.size, c.owned.size], [4, 4, 4]);
  // c dies: it neither beats nor renews. Just under a ttl nothing moves.
  await rounds(w.clock, [a, b], 3);
  t.equal(a.owned.size + b.owned.size, 8, 'nothing taken before a full ttl of silence');
  await rounds(w.clock, [a, b], 3);
  t.same([a.owned.size, b.owned.size], [6, 6], "c's partitions moved: six each");
  t.same(a.balancer.view.members, ['a', 'b'], 'c was removed from the membership');
});

t.test('partition-balancer - a lease taken by another process first is simply not ours', async (t) => {
  const w = world();
  const a = w.member('a');
  // Someone writes partition 0 between a's look and a's write: a's CAS at the revision it saw fails.
  const original = w.leases.load.bind(w.leases);
  let raced = false;
  w.leases.load = async (key) => {
    const seen = await original(key);
    if (key === leaseKey(0) && !raced) {
      raced = true;
      await w.leases.save(key, { owner: 'x', epoch: 1, renewedAt: 0 }, seen.revision);
    }
    return seen;
  };
  await a.round();
  t.notOk(a.owned.has(0), 'partition 0 was not acquired');
  t.equal(a.owned.size, P - 1, 'the others were');
});

t.test('partition-balancer - partitions pinned by a static member are left out of the shares', async (t) => {
  const w = world();
  const s = w.member('s', [0, 1, 2, 3]);
  for (const p of [0, 1, 2, 3]) {
    await w.leases.save(leaseKey(p), { owner: 's', epoch: 1, renewedAt: 0 }, 0);
    s.owned.add(p);
  }
  const [a, b] = [w.member('a'), w.member('b')];
  await rounds(w.clock, [s, a, b], 4);
  t.same([a.owned.size, b.owned.size], [4, 4], 'the eight unpinned partitions split four and four');
  t.notOk(
    [...a.owned, ...b.owned].some((p) => p < 4),
    'no dynamic member took a pinned partition',
  );
});
