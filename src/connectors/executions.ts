/**
 * Execution records: one per action ID in the parley-executions KV bucket, the proof that decides whether
 * an action may be sent. Created before the send (create fails if the key exists), moved by
 * compare-and-set: claimed -> sent | retry | dead. A record is never deleted by Parley (the bucket's
 * max_age expires it with the ACTIONS retention), so a redelivered or redriven action that was sent is
 * acked without sending.
 *
 * What must stay true: only the holder of the current revision changes a record. A claim by another
 * owner is stale at once (only a partition's lease holder sends its actions, so the claimer lost the
 * partition mid-send); a claim of our own younger than `claimTtlMs` is a send still in progress here
 * (wait), an older one is a send whose outcome was never recorded. Stale claims are reconciled: resent
 * with the same key, looked up, or dead-lettered as ambiguous (per channel).
 */

import type { VersionedStore } from '../contracts/ports.js';
import { FencedError } from '../errors/app-error.js';

export type ExecutionStatus = 'claimed' | 'retry' | 'sent' | 'dead';

export interface ExecutionRecord {
  status: ExecutionStatus;
  channel: string;
  owner: string;
  /** Counted send attempts, including the one a `claimed` record stands for. */
  attempt: number;
  claimedAt: number;
  deliveryId?: string;
  sentAt?: number;
  error?: string;
  reason?: string;
  /** DLQ sequence of the redrive that re-opened this record, if any. */
  redrive?: number;
}

export type Claim =
  | { type: 'claimed'; revision: number; record: ExecutionRecord }
  | { type: 'sent'; record: ExecutionRecord }
  | { type: 'dead'; record: ExecutionRecord }
  | { type: 'busy'; retryAfterMs: number; record: ExecutionRecord }
  | { type: 'stale'; revision: number; record: ExecutionRecord };

export interface ClaimRequest {
  actionId: string;
  channel: string;
  owner: string;
  now: number;
  claimTtlMs: number;
  /** Set when the message is a redrive: allows re-opening a `dead` record once per redrive. */
  redrive?: number;
}

export class ExecutionStore {
  readonly #store: VersionedStore<ExecutionRecord>;

  constructor(store: VersionedStore<ExecutionRecord>) {
    this.#store = store;
  }

  async claim(req: ClaimRequest): Promise<Claim> {
    const fresh: ExecutionRecord = {
      status: 'claimed',
      channel: req.channel,
      owner: req.owner,
      attempt: 1,
      claimedAt: req.now,
      ...(req.redrive !== undefined ? { redrive: req.redrive } : {}),
    };
    try {
      return { type: 'claimed', revision: await this.#store.save(req.actionId, fresh, 0), record: fresh };
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
    }
    const { value, revision } = await this.#store.load(req.actionId);
    if (!value) {
      // Deleted by an operator: claim anew on top of the tombstone.
      return {
        type: 'claimed',
        revision: await this.#store.save(req.actionId, fresh, revision),
        record: fresh,
      };
    }
    const reopened = req.redrive !== undefined && value.redrive !== req.redrive;
    if (reopened && (value.status === 'dead' || value.status === 'retry')) {
      // An operator redrive starts the attempts afresh, once per redrive.
      return {
        type: 'claimed',
        revision: await this.#store.save(req.actionId, fresh, revision),
        record: fresh,
      };
    }
    switch (value.status) {
      case 'sent':
        return { type: 'sent', record: value };
      case 'dead':
        return { type: 'dead', record: value };
      case 'retry': {
        const record: ExecutionRecord = {
          ...value,
          status: 'claimed',
          owner: req.owner,
          claimedAt: req.now,
          attempt: value.attempt + 1,
        };
        return { type: 'claimed', revision: await this.#store.save(req.actionId, record, revision), record };
      }
      case 'claimed': {
        // Sends run only in the owner of the action's partition, so a claim by another owner is a previous
        // owner's (dead, or fenced when the lease moved): in flight at its end, reconciled now.
        if (value.owner !== req.owner) return { type: 'stale', revision, record: value };
        const age = req.now - value.claimedAt;
        if (age < req.claimTtlMs) return { type: 'busy', retryAfterMs: req.claimTtlMs - age, record: value };
        return { type: 'stale', revision, record: value };
      }
    }
  }

  /** Takes a stale claim over for another attempt. Throws FencedError if someone else did first. */
  async takeOver(
    actionId: string,
    stale: { revision: number; record: ExecutionRecord },
    owner: string,
    now: number,
  ): Promise<{ revision: number; record: ExecutionRecord }> {
    const record: ExecutionRecord = {
      ...stale.record,
      status: 'claimed',
      owner,
      claimedAt: now,
      attempt: stale.record.attempt + 1,
    };
    return { revision: await this.#store.save(actionId, record, stale.revision), record };
  }

  /**
   * Records a send that had no claim (first sight on a channel whose receiver dedupes by key): creates the
   * record as `sent`. Another record under the key means a concurrent sender (a previous owner finishing
   * its send after a pause): the receiver deduped one of the two; the record is made to say `sent`.
   */
  async recordSent(
    actionId: string,
    record: ExecutionRecord,
    deliveryId: string,
    now: number,
  ): Promise<void> {
    const { error: _e, reason: _r, ...rest } = record;
    const sent: ExecutionRecord = { ...rest, status: 'sent', deliveryId, sentAt: now };
    for (let attempt = 1; ; attempt++) {
      const { value, revision } =
        attempt === 1 ? { value: undefined, revision: 0 } : await this.#store.load(actionId);
      if (value?.status === 'sent') return;
      try {
        await this.#store.save(actionId, sent, revision);
        return;
      } catch (err) {
        if (!(err instanceof FencedError) || attempt >= 5) throw err;
      }
    }
  }

  async markSent(
    actionId: string,
    held: { revision: number; record: ExecutionRecord },
    deliveryId: string,
    now: number,
  ): Promise<void> {
    const { error: _e, reason: _r, ...rest } = held.record;
    await this.#store.save(actionId, { ...rest, status: 'sent', deliveryId, sentAt: now }, held.revision);
  }

  /** Releases a claim after a failed attempt; `counted: false` (rate limited) does not use up an attempt. */
  async markRetry(
    actionId: string,
    held: { revision: number; record: ExecutionRecord },
    error: string,
    counted: boolean,
  ): Promise<void> {
    const attempt = counted ? held.record.attempt : held.record.attempt - 1;
    await this.#store.save(actionId, { ...held.record, status: 'retry', attempt, error }, held.revision);
  }

  async markDead(
    actionId: string,
    held: { revision: number; record: ExecutionRecord },
    reason: string,
    error: string,
  ): Promise<void> {
    await this.#store.save(actionId, { ...held.record, status: 'dead', reason, error }, held.revision);
  }
}
