/**
 * Partition ownership by lease in KV (bucket parley-leases, key partitions.<n>), written with revision
 * compare-and-set. Invariant: at most one process processes a partition at a time, without trusting
 * clocks across machines:
 *   - the holder renews every ttl/4 and commits only while its last successful renewal (timed from when
 *     the renewal was sent) is younger than ttl/2; past that it is "unsure" and holds its commits until a
 *     renewal succeeds (a CAS that succeeds proves nobody took the lease meanwhile) or fails (lost);
 *   - a taker that replaces a lease not explicitly released waits a full ttl before touching the
 *     partition, by which time the previous holder has either seen its renewal fail or timed out locally;
 *   - a renewal that loses the CAS means someone took the lease: the holder stops at once.
 * State writes are CAS-protected too, so a holder that is wrong about its lease still cannot double-apply.
 */

import type { Clock, LeaseStatus, Versioned, VersionedStore } from '../contracts/ports.js';
import { FencedError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';

/** The lease was taken by another process between our look and our write (dynamic ownership). */
export class LeaseTakenError extends FencedError {
  constructor(partition: number) {
    super(`partition ${partition} lease was taken by another process first`);
  }
}

export interface LeaseRecord {
  owner: string;
  epoch: number;
  renewedAt: number;
  released?: boolean;
}

export interface PartitionLeaseOptions {
  store: VersionedStore<LeaseRecord>;
  partition: number;
  owner: string;
  ttlMs: number;
  clock: Clock;
  log: Logger;
  /** Called once when ownership is lost (taken over, or renewal impossible). */
  onLost: (reason: string) => void;
}

export type { LeaseStatus } from '../contracts/ports.js';

export function leaseKey(partition: number): string {
  return `partitions.${partition}`;
}

export class PartitionLease {
  readonly #o: PartitionLeaseOptions;
  #revision = 0;
  #epoch = 0;
  #lastRenewOk = 0;
  #stopped = false;
  #lost = false;
  #renewing = false;

  constructor(options: PartitionLeaseOptions) {
    this.#o = options;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Whether this process may commit for the partition now: `owned`, `unsure` (renewals are late: wait for
   * the next one) or `lost`. Cheap: called before every commit.
   */
  status(): LeaseStatus {
    if (this.#lost) return 'lost';
    return this.#o.clock.now() - this.#lastRenewOk < this.#o.ttlMs / 2 ? 'owned' : 'unsure';
  }

  /**
   * Takes the lease (replacing any other holder) and returns once it is safe to process. Resolves to the
   * previous owner if one was replaced.
   */
  async acquire(isStopping: () => boolean, expect?: Versioned<LeaseRecord>): Promise<string | undefined> {
    const { store, partition, owner, clock, ttlMs } = this.#o;
    const key = leaseKey(partition);
    for (;;) {
      // Dynamic ownership takes exactly the lease it saw free, released or expired: a lost CAS means
      // another process took it first (LeaseTakenError), never a reason to take it from them.
      const current = expect ?? (await store.load(key));
      const previous = current.value;
      const record: LeaseRecord = { owner, epoch: (previous?.epoch ?? 0) + 1, renewedAt: clock.now() };
      const sentAt = clock.now();
      try {
        this.#revision = await store.save(key, record, current.revision);
      } catch (err) {
        if (err instanceof FencedError && expect) throw new LeaseTakenError(partition);
        if (err instanceof FencedError && !isStopping()) continue; // someone wrote in between: re-read
        throw err;
      }
      this.#epoch = record.epoch;
      const replaced =
        previous && !previous.released && previous.owner !== owner ? previous.owner : undefined;
      if (replaced && expect) {
        // Dynamic ownership takes an unreleased lease only once it has seen it unrenewed for a full ttl:
        // the holder's commit window (ttl/2 after its last renewal) closed before that.
        this.#o.log.warn(
          { partition, previousOwner: replaced, epoch: record.epoch },
          'partition lease expired (its owner stopped renewing); taken over',
        );
        this.#lastRenewOk = sentAt;
      } else if (replaced) {
        this.#o.log.warn(
          { partition, previousOwner: replaced, epoch: record.epoch, waitMs: ttlMs },
          'partition lease taken over from another owner; waiting one lease period before processing',
        );
        await clock.sleep(ttlMs);
        // Renew to learn whether someone took it while we waited.
        if (!(await this.#renew()))
          throw new FencedError(`partition ${partition} lease was taken while waiting`);
      } else {
        this.#lastRenewOk = sentAt;
      }
      void this.#renewLoop(Math.max(50, Math.floor(ttlMs / 4)));
      return replaced;
    }
  }

  async #renew(): Promise<boolean> {
    if (this.#lost || this.#renewing) return !this.#lost;
    this.#renewing = true;
    const { store, partition, owner, clock, log } = this.#o;
    try {
      const sentAt = clock.now();
      const record: LeaseRecord = { owner, epoch: this.#epoch, renewedAt: sentAt };
      this.#revision = await store.save(leaseKey(partition), record, this.#revision);
      // Timed from the send: the write may have landed right away and a taker's wait started after it.
      this.#lastRenewOk = Math.max(this.#lastRenewOk, sentAt);
      return true;
    } catch (err) {
      if (err instanceof FencedError) {
        const now = await store.load(leaseKey(partition)).catch(() => undefined);
        this.#lose(
          `lease taken over by ${now?.value?.owner ?? 'another owner'} (epoch ${now?.value?.epoch ?? '?'})`,
        );
        return false;
      }
      // Not a lost CAS: we may still be the owner. Commits pause ("unsure") until a renewal settles it.
      log.warn({ partition, err }, 'partition lease renewal failed; commits wait until it succeeds');
      return true;
    } finally {
      this.#renewing = false;
    }
  }

  #lose(reason: string): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#stopTimer();
    this.#o.onLost(reason);
  }

  /** Renews every `everyMs` on the injected clock until the lease is lost or released. */
  async #renewLoop(everyMs: number): Promise<void> {
    while (!this.#lost && !this.#stopped) {
      await this.#o.clock.sleep(everyMs);
      if (this.#lost || this.#stopped) return;
      await this.#renew();
    }
  }

  #stopTimer(): void {
    this.#stopped = true;
  }

  /**
   * Stops renewing without giving the lease up (the partition was fenced for another reason): it simply
   * expires, and a taker still waits out the ttl.
   */
  abandon(): void {
    this.#stopTimer();
    this.#lost = true;
  }

  /**
   * Gives the lease up so the next owner need not wait. Only if we still hold it. Resolves to whether
   * the release was written (false: taken over meanwhile, or NATS unreachable; logged).
   */
  async release(): Promise<boolean> {
    this.#stopTimer();
    if (this.#lost) return false;
    this.#lost = true;
    const { store, partition, owner, clock } = this.#o;
    try {
      await store.save(
        leaseKey(partition),
        { owner, epoch: this.#epoch, renewedAt: clock.now(), released: true },
        this.#revision,
      );
      return true;
    } catch (err) {
      // Taken over meanwhile (a lost CAS: someone else owns it now), or NATS gone: the next owner then
      // waits out the ttl. Either way this process no longer owns the partition; say which.
      this.#o.log.warn(
        { partition, epoch: this.#epoch, err },
        err instanceof FencedError
          ? 'partition lease was taken by another owner before it could be released'
          : 'partition lease could not be released; the next owner waits one lease period',
      );
      return false;
    }
  }
}
