/**
 * One action, start to finish: validate -> due time -> pre-send gate -> rate-limit token -> execution
 * claim -> send (with timeout) -> record -> outcome. Returns what to do with the message as a value
 * (ack, or nak with a delay that may hold the conversation); the runner applies it. Every decision about
 * an action's fate is taken (and logged once) here.
 *
 * What must stay true: nothing is sent without a fresh claim on its execution record; a record found
 * `sent` is acked without sending; a stale claim on a channel that cannot reconcile is dead-lettered as
 * ambiguous, never resent; outcome and dead-letter messages carry IDs derived from the action ID.
 */

import { type ActionMessage, actionLogFields } from '../contracts/action.js';
import { HDR_CONTENT_TYPE } from '../contracts/headers.js';
import type { Clock, InboundMessage, Publisher } from '../contracts/ports.js';
import { FencedError, RetryableError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import { dueAt, parseAction } from './action.js';
import type { ChannelAdapter, DeliveryEnvelope, SendContext, SendResult } from './channel.js';
import type { ConnectorMetrics } from './connector-metrics.js';
import type { ExecutionRecord, ExecutionStore } from './executions.js';
import { HDR_REDRIVE } from './messages.js';
import { type Failure, OutcomeRecorder } from './outcome-recorder.js';
import type { PreSendGate } from './pre-send-gate.js';
import { decideRetry, type RetrySettings } from './retry-policy.js';
import type { Rate, TokenBuckets } from './token-buckets.js';

export type Disposition = { type: 'ack' } | { type: 'nak'; delayMs: number; hold: boolean };

/** The per-tenant settings every channel config has. */
export interface ChannelSettings {
  rate?: Rate;
  account?: string;
  timeoutMs?: number;
  /** An action in flight when its sender died: send again with the same key, or dead-letter as ambiguous. */
  uncertain?: 'resend' | 'dead-letter';
}

/**
 * What happens to an action whose sender died between claim and outcome: the channel config's `uncertain`,
 * else `resend` where the receiver dedupes by the action's key (webhook-id, Idempotency-Key) and
 * `dead-letter` (ambiguous) where it cannot.
 */
export function uncertainPolicy(
  adapter: Pick<ChannelAdapter<unknown>, 'reconcile'>,
  config: ChannelSettings,
): 'resend' | 'dead-letter' {
  return config.uncertain ?? (adapter.reconcile === 'idempotency-key' ? 'resend' : 'dead-letter');
}

export type CrashPoint = 'claimed' | 'sent' | 'recorded';

export interface ExecutorSettings extends RetrySettings {
  sendTimeoutMs: number;
  maxDeliveries: number;
  maxThrottleWaitMs: number;
}

export interface ActionExecutorDeps {
  channel: string;
  adapter: ChannelAdapter<unknown>;
  configFor(tenant: string): ChannelSettings | undefined;
  gate: PreSendGate;
  tokens: TokenBuckets;
  executions: ExecutionStore;
  publisher: Publisher;
  metrics: ConnectorMetrics;
  log: Logger;
  clock: Clock;
  owner: string;
  settings: ExecutorSettings;
  /** Test hook: called at each crash point (see connectors.crashAt). */
  crashPoint?: (point: CrashPoint) => void;
}

const ACK: Disposition = Object.freeze({ type: 'ack' });

interface Held {
  /** 0: no record written yet (first sight: the send goes before any record). */
  revision: number;
  record: ExecutionRecord;
}

/** Runs `fn` with an abort signal fired after `timeoutMs`; rejects with a retryable timeout either way. */
async function withTimeout<T>(timeoutMs: number, fn: (ctx: SendContext) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new RetryableError(`no answer within ${timeoutMs} ms`, { code: 'SEND_TIMEOUT' }));
    }, timeoutMs);
  });
  try {
    return await Promise.race([fn({ signal: controller.signal, timeoutMs }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class ActionExecutor {
  readonly #d: ActionExecutorDeps;
  readonly #channel: string;
  readonly #out: OutcomeRecorder;

  constructor(deps: ActionExecutorDeps) {
    this.#d = deps;
    this.#channel = deps.channel;
    this.#out = new OutcomeRecorder(deps);
  }

  #count(result: string): void {
    this.#out.count(result);
  }

  async handle(msg: InboundMessage, firstSight = false): Promise<Disposition> {
    const { clock, settings } = this.#d;
    const now = clock.now();
    let action: ActionMessage;
    try {
      action = parseAction(msg.data, msg.header(HDR_CONTENT_TYPE));
    } catch (err) {
      await this.#out.invalid(msg, err);
      return ACK;
    }
    const redriveHeader = msg.header(HDR_REDRIVE);
    const redrive = redriveHeader === undefined ? undefined : Number(redriveHeader);
    const config = this.#d.configFor(action.tenant);
    if (!config) {
      return this.#deadLetter(
        action,
        msg,
        undefined,
        {
          reason: 'channel_not_configured',
          error: `tenant ${action.tenant} has no ${this.#channel} channel in its configuration`,
          attempts: 0,
        },
        redrive,
      );
    }
    if (msg.deliveryCount > settings.maxDeliveries) {
      return this.#deadLetter(
        action,
        msg,
        undefined,
        {
          reason: 'max_deliveries',
          error: `delivered ${msg.deliveryCount} times without an outcome (throttled or held throughout)`,
          attempts: 0,
        },
        redrive,
      );
    }
    const due = dueAt(action);
    if (due > now + 5) return { type: 'nak', delayMs: due - now, hold: false };

    const verdict = await this.#d.gate.check(action);
    if (!verdict.allow) {
      if (verdict.outcome === 'deferred') {
        this.#count('deferred');
        return { type: 'nak', delayMs: verdict.retryAfterMs ?? settings.retryInitialMs, hold: true };
      }
      await this.#out.blocked(action, verdict.reason, redrive);
      return ACK;
    }

    const key = `${this.#channel}.${config.account ?? action.tenant}`;
    const timeoutMs = config.timeoutMs ?? settings.sendTimeoutMs;
    if (firstSight && redrive === undefined && uncertainPolicy(this.#d.adapter, config) === 'resend') {
      // Nobody can have tried this action (partition-dispatcher.ts, firstSight) and a resend under the same
      // key is harmless here, so the claim write is skipped: one record write, after the send. A crash before
      // it leaves no record; the next owner sees the action as recovered, claims it and resends it.
      const record: ExecutionRecord = {
        status: 'claimed',
        channel: this.#channel,
        owner: this.#d.owner,
        attempt: 1,
        claimedAt: now,
      };
      return this.#send(action, msg, config, key, { revision: 0, record }, timeoutMs, redrive);
    }
    const claim = await this.#d.executions.claim({
      actionId: action.id,
      channel: this.#channel,
      owner: this.#d.owner,
      now: clock.now(),
      // Long enough for a token wait plus a send: a younger claim belongs to a live sender.
      claimTtlMs: timeoutMs + settings.maxThrottleWaitMs + 5_000,
      ...(redrive === undefined ? {} : { redrive }),
    });
    switch (claim.type) {
      case 'sent':
        // Sent before (a redelivery after a crash past the send): make sure the outcome exists, then ack.
        await this.#out.sent(action, this.#delivery(claim.record), redrive, true);
        return ACK;
      case 'dead':
        this.#count('duplicate');
        return ACK;
      case 'busy':
        return { type: 'nak', delayMs: claim.retryAfterMs + 50, hold: true };
      case 'stale':
        return this.#reconcile(action, msg, config, key, claim, timeoutMs, redrive);
      case 'claimed':
        return this.#send(action, msg, config, key, claim, timeoutMs, redrive);
    }
  }

  #delivery(record: ExecutionRecord) {
    return {
      deliveryId: record.deliveryId ?? '',
      status: 'delivered',
      attempts: record.attempt,
      at: record.sentAt ?? this.#d.clock.now(),
    };
  }

  async #send(
    action: ActionMessage,
    msg: InboundMessage,
    config: ChannelSettings,
    key: string,
    held: Held,
    timeoutMs: number,
    redrive: number | undefined,
  ): Promise<Disposition> {
    const { clock, adapter, log, settings } = this.#d;
    // The token is taken right before the send (not before the claim), so a grant and the request it pays
    // for reach the provider close together: no burst beyond the bucket from claim latency.
    const acquired = await this.#d.tokens.acquire(key, config.rate, settings.maxThrottleWaitMs);
    if (!acquired.ok) {
      this.#count('throttled');
      if (held.revision > 0)
        await this.#d.executions
          .markRetry(action.id, held, 'THROTTLED: waiting for a rate-limit token', false)
          .catch((e) =>
            log.warn({ err: e, ...actionLogFields(action) }, 'could not release the execution claim'),
          );
      return { type: 'nak', delayMs: acquired.retryAfterMs, hold: true };
    }
    if (config.rate)
      this.#d.metrics.tokenWaitSeconds.observe({ channel: this.#channel }, acquired.waitedMs / 1000);
    this.#d.crashPoint?.('claimed');
    const envelope: DeliveryEnvelope = { id: action.id, action, config, attempt: held.record.attempt };
    const started = clock.now();
    let result: SendResult;
    try {
      result = await withTimeout(timeoutMs, (ctx) => adapter.send(envelope, ctx));
      this.#d.metrics.sendSeconds.observe(
        { channel: this.#channel, outcome: 'ok' },
        (clock.now() - started) / 1000,
      );
    } catch (err) {
      this.#d.metrics.sendSeconds.observe(
        { channel: this.#channel, outcome: 'error' },
        (clock.now() - started) / 1000,
      );
      return this.#failed(action, msg, key, held, err, redrive);
    }
    this.#d.crashPoint?.('sent');
    const now = clock.now();
    try {
      await this.#retrying(() =>
        held.revision === 0
          ? this.#d.executions.recordSent(action.id, held.record, result.deliveryId, now)
          : this.#d.executions.markSent(action.id, held, result.deliveryId, now),
      );
    } catch (err) {
      // Sent, but the record could not say so: a redelivery will reconcile (or dead-letter as ambiguous).
      log.error(
        { err, ...actionLogFields(action), deliveryId: result.deliveryId },
        'sent, but the execution record was not updated',
      );
      return { type: 'nak', delayMs: timeoutMs + 5_000, hold: true };
    }
    this.#d.crashPoint?.('recorded');
    const delivery = {
      deliveryId: result.deliveryId,
      status: result.status,
      attempts: held.record.attempt,
      at: now,
    };
    await this.#out.sent(action, delivery, redrive);
    return ACK;
  }

  async #failed(
    action: ActionMessage,
    msg: InboundMessage,
    key: string,
    held: Held,
    err: unknown,
    redrive: number | undefined,
  ): Promise<Disposition> {
    const decision = decideRetry(err, held.record.attempt, this.#d.settings);
    if (decision.type === 'retry') {
      if (decision.code === 'RATE_LIMITED') this.#d.tokens.pause(key, decision.delayMs);
      await this.#d.executions
        .markRetry(action.id, held, `${decision.code}: ${decision.error}`, decision.counted)
        .catch((e) =>
          this.#d.log.warn({ err: e, ...actionLogFields(action) }, 'could not release the execution claim'),
        );
      this.#count(decision.code === 'RATE_LIMITED' ? 'rate_limited' : 'retried');
      this.#d.log.warn(
        {
          ...actionLogFields(action),
          channel: this.#channel,
          attempt: held.record.attempt,
          code: decision.code,
          delayMs: decision.delayMs,
          error: decision.error,
        },
        'send failed, will retry',
      );
      return { type: 'nak', delayMs: decision.delayMs, hold: true };
    }
    const failure = {
      reason: decision.reason,
      error: `${decision.code}: ${decision.error}`,
      attempts: held.record.attempt,
    };
    return this.#deadLetter(action, msg, held, failure, redrive);
  }

  async #reconcile(
    action: ActionMessage,
    msg: InboundMessage,
    config: ChannelSettings,
    key: string,
    stale: Held,
    timeoutMs: number,
    redrive: number | undefined,
  ): Promise<Disposition> {
    const { adapter, clock, owner, log } = this.#d;
    let held: Held;
    try {
      held = await this.#d.executions.takeOver(action.id, stale, owner, clock.now());
    } catch (err) {
      if (err instanceof FencedError) return { type: 'nak', delayMs: 500, hold: true };
      throw err;
    }
    const previous = { owner: stale.record.owner, claimedAt: new Date(stale.record.claimedAt).toISOString() };
    if (adapter.reconcile === 'status' && adapter.status) {
      const found = await withTimeout(timeoutMs, (ctx) =>
        adapter.status!({ deliveryId: stale.record.deliveryId, actionId: action.id, config }, ctx),
      ).catch(() => ({ state: 'unknown' as const }));
      if (found.state === 'not_found') return this.#send(action, msg, config, key, held, timeoutMs, redrive);
      if (found.state === 'delivered' || found.state === 'accepted') {
        const now = clock.now();
        await this.#d.executions.markSent(action.id, held, found.deliveryId, now);
        const delivery = {
          deliveryId: found.deliveryId,
          status: found.state,
          attempts: held.record.attempt,
          at: now,
        };
        await this.#out.sent(action, delivery, redrive);
        return ACK;
      }
    }
    if (uncertainPolicy(adapter, config) === 'resend') {
      this.#count('resent');
      log.info(
        { ...actionLogFields(action), previous },
        'resending an action in flight at a crash or handover, with the same key',
      );
      return this.#send(action, msg, config, key, held, timeoutMs, redrive);
    }
    this.#count('ambiguous');
    return this.#deadLetter(
      action,
      msg,
      held,
      {
        reason: 'ambiguous',
        error:
          `claimed by ${previous.owner} at ${previous.claimedAt} with no recorded outcome; the ${this.#channel} ` +
          'channel cannot confirm whether it was delivered and is set to uncertain: dead-letter, so it is ' +
          'not resent (redrive to send it anyway)',
        attempts: stale.record.attempt,
      },
      redrive,
    );
  }

  async #deadLetter(
    action: ActionMessage,
    msg: InboundMessage,
    held: Held | undefined,
    failure: Failure,
    redrive: number | undefined,
  ): Promise<Disposition> {
    if (held) {
      try {
        await this.#d.executions.markDead(action.id, held, failure.reason, failure.error);
      } catch (err) {
        if (err instanceof FencedError) return ACK; // another process owns the action now
        throw err;
      }
    }
    await this.#out.deadLettered(action, msg, failure, redrive);
    return ACK;
  }

  /** A few quick in-place retries for a KV write that must not be lost to a blip. */
  async #retrying(fn: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof FencedError || attempt >= 3) throw err;
        await this.#d.clock.sleep(50 * attempt);
      }
    }
  }
}
