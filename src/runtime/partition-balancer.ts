/**
 * Dynamic partition ownership: the processes running actors split the partitions evenly through the
 * leases in `parley-leases`, with a membership record beside them (key `members`).
 *
 * Every tick (ttl/4) a process:
 *   1. beats: increments its counter in `members` (one CAS-written map of every member). A member whose
 *      counter has not moved for a full ttl, as observed by this process's own clock, is dead and pruned;
 *      a member that stops gracefully removes itself first. No clock is compared across processes.
 *   2. reads every partition lease. A lease is free when absent or released, and expired when it is not
 *      released and its revision has not moved for a full ttl (observed locally, like the members).
 *   3. computes its share: the live dynamic members sorted by id, each owning floor(P/n) partitions and the
 *      first P mod n one more (partitions pinned by static members are left out of P).
 *   4. under its share: takes free or expired leases (its "home" partitions first, so simultaneous joiners
 *      rarely collide; a collision is a lost CAS and simply tried elsewhere next tick);
 *      over its share while another live member is under its own and no free lease can cover that:
 *      hands the excess over gracefully (drain, then release: the taker sees `released` and does not wait).
 *
 * What must stay true: a lease is only ever taken at the exact revision seen free/released/expired (CAS),
 * so two processes never both believe they acquired it; an unreleased lease is taken only after a full ttl
 * without renewal, when its holder's commit window (ttl/2 after its last renewal) has closed. A fenced
 * partition is dropped from this process's set and may be taken again later when it is free.
 */

import type { Clock, Versioned, VersionedStore } from '../contracts/ports.js';
import { FencedError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import type { LeaseRecord } from './partition-lease.js';
import { leaseKey } from './partition-lease.js';
import { formatPartitionSet } from './partition-set.js';

export const MEMBERS_KEY = 'members';

export interface MemberEntry {
  /** Heartbeat counter: moves every tick while the member lives. */
  beat: number;
  mode: 'dynamic' | 'static';
  /** Partitions a static member pins (left out of the dynamic members' shares). */
  pinned?: number[];
  startedAt: number;
}

export interface Membership {
  members: Record<string, MemberEntry>;
}

export interface BalancerHost {
  /** Partitions this process holds or is acquiring. */
  owned(): number[];
  /** Starts a partition at the lease version seen free; resolves false if another process won it. */
  acquire(partition: number, seen: Versioned<LeaseRecord>): Promise<boolean>;
  /** Gracefully hands a partition over: drain, then release its lease. */
  handOver(partition: number): Promise<void>;
}

export interface PartitionBalancerOptions {
  owner: string;
  partitions: number;
  leases: VersionedStore<LeaseRecord>;
  members: VersionedStore<Membership>;
  ttlMs: number;
  clock: Clock;
  log: Logger;
  host: BalancerHost;
  /** Static mode: the pinned partitions, announced so dynamic members leave them out. */
  pinned?: number[];
}

export interface BalancerView {
  members: string[];
  target: number;
  owned: number[];
}

interface Seen {
  revision: number;
  since: number;
}

export class PartitionBalancer {
  readonly #o: PartitionBalancerOptions;
  readonly #memberSeen = new Map<string, { beat: number; since: number }>();
  readonly #leaseSeen = new Map<number, Seen>();
  #beat = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;
  #view: BalancerView = { members: [], target: 0, owned: [] };
  readonly #startedAt: number;

  constructor(options: PartitionBalancerOptions) {
    this.#o = options;
    this.#startedAt = options.clock.now();
  }

  get view(): BalancerView {
    return this.#view;
  }

  get dynamic(): boolean {
    return this.#o.pinned === undefined;
  }

  /** Runs the first round (beat, take a share) and then one every ttl/4. */
  async start(): Promise<void> {
    await this.tick();
    const every = Math.max(100, Math.floor(this.#o.ttlMs / 4));
    const loop = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        // Later rounds do not wait for their acquisitions: taking over a lease waits a full ttl, and a
        // member that stopped beating meanwhile would be pruned by the others.
        this.#ticking = this.tick(false).finally(loop);
      }, every);
      this.#timer.unref?.();
    };
    loop();
  }

  /** Stops balancing and leaves the membership, so the others take the released partitions at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking?.catch(() => undefined);
    await this.#updateMembers((m) => {
      delete m.members[this.#o.owner];
    }).catch((err) => this.#o.log.warn({ err }, 'could not leave the partition membership'));
  }

  /**
   * One round. Errors (NATS unavailable) are logged; the next round tries again. With `waitForAcquisitions`
   * false the round returns once it has beaten and started its acquisitions (a partition being acquired
   * counts as owned in the next round).
   */
  async tick(waitForAcquisitions = true): Promise<void> {
    try {
      await this.#round(waitForAcquisitions);
    } catch (err) {
      this.#o.log.warn({ err }, 'partition balancing round failed; retrying next round');
    }
  }

  async #round(waitForAcquisitions: boolean): Promise<void> {
    const { clock, owner, ttlMs, partitions, host } = this.#o;
    const now = clock.now();
    this.#beat++;
    const members = await this.#updateMembers((m) => {
      const mine = m.members[owner];
      m.members[owner] = {
        beat: (mine?.beat ?? 0) + 1,
        mode: this.dynamic ? 'dynamic' : 'static',
        startedAt: mine?.startedAt ?? this.#startedAt,
        ...(this.#o.pinned ? { pinned: this.#o.pinned } : {}),
      };
      // Prune the dead: counters that have not moved for a full ttl, by our clock.
      for (const [id, e] of Object.entries(m.members)) {
        if (id === owner) continue;
        const seen = this.#memberSeen.get(id);
        if (!seen || seen.beat !== e.beat) this.#memberSeen.set(id, { beat: e.beat, since: now });
        else if (now - seen.since >= ttlMs) {
          delete m.members[id];
          this.#memberSeen.delete(id);
          this.#o.log.warn({ member: id }, 'partition member stopped beating; removed from the membership');
        }
      }
    });
    if (!this.dynamic || this.#stopped) return;

    const alive = Object.entries(members.members).filter(([, e]) => e.mode === 'dynamic');
    const ids = alive.map(([id]) => id).sort();
    const excluded = new Set(
      Object.values(members.members).flatMap((e) => (e.mode === 'static' ? (e.pinned ?? []) : [])),
    );
    const pool = Array.from({ length: partitions }, (_, p) => p).filter((p) => !excluded.has(p));
    const n = Math.max(1, ids.length);
    const targetOf = (i: number) => Math.floor(pool.length / n) + (i < pool.length % n ? 1 : 0);
    const me = Math.max(0, ids.indexOf(owner));
    const target = targetOf(me);

    const leases = await Promise.all(pool.map((p) => this.#o.leases.load(leaseKey(p))));
    const free: Array<{ p: number; seen: Versioned<LeaseRecord> }> = [];
    const counts = new Map<string, number>();
    for (const [i, lease] of leases.entries()) {
      const p = pool[i]!;
      const seen = this.#leaseSeen.get(p);
      if (!seen || seen.revision !== lease.revision)
        this.#leaseSeen.set(p, { revision: lease.revision, since: now });
      const v = lease.value;
      // Not renewed for a full ttl: its holder is gone (or it is ours, abandoned when it was fenced).
      const expired = v && !v.released && seen?.revision === lease.revision && now - seen.since >= ttlMs;
      if (!v || v.released || expired) free.push({ p, seen: lease });
      else counts.set(v.owner, (counts.get(v.owner) ?? 0) + 1);
    }

    const mine = host.owned().filter((p) => !excluded.has(p));
    this.#view = { members: ids, target, owned: mine };
    if (mine.length < target) {
      const home = (p: number) => pool.indexOf(p) % n === me;
      const candidates = free
        .filter((f) => !mine.includes(f.p))
        .sort((a, b) => Number(home(b.p)) - Number(home(a.p)) || a.p - b.p)
        .slice(0, target - mine.length);
      const acquiring = Promise.all(
        candidates.map((c) =>
          host.acquire(c.p, c.seen).catch((err) => {
            if (!(err instanceof FencedError))
              this.#o.log.warn({ partition: c.p, err }, 'could not acquire partition; retrying next round');
            return false;
          }),
        ),
      ).then((acquired) => {
        // One line per round, not per partition (a start acquires 64 at once).
        const taken = candidates.filter((_, i) => acquired[i] === true).map((c) => c.p);
        if (taken.length > 0)
          this.#o.log.info(
            { partitions: formatPartitionSet(taken), count: taken.length, members: ids.length },
            'partitions acquired',
          );
      });
      if (waitForAcquisitions) await acquiring;
    } else if (mine.length > target) {
      const deficit = ids.reduce((sum, id, i) => sum + Math.max(0, targetOf(i) - (counts.get(id) ?? 0)), 0);
      const give = Math.min(mine.length - target, Math.max(0, deficit - free.length));
      if (give > 0) {
        const home = (p: number) => pool.indexOf(p) % n === me;
        const order = [...mine].sort((a, b) => Number(home(a)) - Number(home(b)) || b - a).slice(0, give);
        this.#o.log.info(
          { members: ids.length, target, owned: mine.length, handingOver: order },
          'handing partitions over to balance the members',
        );
        // Not awaited: a drain can take longer than a lease period, and the heartbeat must not wait for it.
        // A partition still draining at the next round counts as ours and is simply asked to stop again.
        void Promise.all(order.map((p) => host.handOver(p))).catch((err) =>
          this.#o.log.warn({ err }, 'a partition handover failed'),
        );
      }
    }
  }

  /** Read-modify-CAS of the membership map, retried on conflict. */
  async #updateMembers(change: (m: Membership) => void): Promise<Membership> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.#o.members.load(MEMBERS_KEY);
      const next: Membership = { members: { ...(current.value?.members ?? {}) } };
      change(next);
      try {
        await this.#o.members.save(MEMBERS_KEY, next, current.revision);
        return next;
      } catch (err) {
        if (!(err instanceof FencedError) || attempt >= 20) throw err;
      }
    }
  }
}
