/**
 * Records what became of an action: outcome events into EVENTS, dead letters, audit records, the action
 * metrics and the one log line where an action's fate is decided. The executor decides; this writes. Every
 * message carries an ID derived from the action ID (messages.ts), so writing twice is harmless.
 */

import { type ActionMessage, actionLogFields } from '../contracts/action.js';
import { isEngineType } from '../contracts/event-types.js';
import type { Clock, InboundMessage, OutboundMessage, Publisher } from '../contracts/ports.js';
import type { Logger } from '../obs/logger.js';
import { dueAt, parseActionSubject } from './action.js';
import type { ConnectorMetrics } from './connector-metrics.js';
import { actionDeadLetter, auditRecord, outcomeEvent, undecodableDeadLetter } from './messages.js';

export interface Failure {
  reason: string;
  error: string;
  attempts: number;
}

export interface OutcomeRecorderDeps {
  channel: string;
  publisher: Publisher;
  metrics: ConnectorMetrics;
  log: Logger;
  clock: Clock;
}

export class OutcomeRecorder {
  readonly #d: OutcomeRecorderDeps;

  constructor(deps: OutcomeRecorderDeps) {
    this.#d = deps;
  }

  count(result: string): void {
    this.#d.metrics.actionsTotal.inc({ channel: this.#d.channel, result });
  }

  async #publish(messages: OutboundMessage[]): Promise<void> {
    await Promise.all(messages.map((m) => this.#d.publisher.publish(m)));
  }

  /** Bytes on ACTIONS that are not an action: dead-lettered under the subject's tenant. */
  async invalid(msg: InboundMessage, err: unknown): Promise<void> {
    const tenant = parseActionSubject(msg.subject)?.tenant ?? '_unknown';
    await this.#publish([
      undecodableDeadLetter(this.#d.channel, tenant, msg, String(err), this.#d.clock.now()),
    ]);
    this.#d.metrics.deadLettersTotal.inc({ channel: this.#d.channel, reason: 'invalid_action' });
    this.#d.log.warn({ seq: msg.seq, subject: msg.subject, err }, 'invalid action dead-lettered');
  }

  async blocked(action: ActionMessage, reason: string, redrive?: number): Promise<void> {
    const now = this.#d.clock.now();
    this.count('blocked');
    this.#d.log.info(
      { ...actionLogFields(action), channel: this.#d.channel, reason },
      'action blocked before send',
    );
    await this.#publish([
      auditRecord('blocked', action, { reason, stage: 'pre-send' }, now, redrive),
      outcomeEvent(action, { type: 'action.failed', outcome: 'blocked', reason, attempts: 0 }, now, redrive),
    ]);
  }

  /** The provider accepted the action (`replayed`: it had before; the outcome is republished, not counted). */
  async sent(
    action: ActionMessage,
    delivery: { deliveryId: string; status: string; attempts: number; at: number },
    redrive?: number,
    replayed = false,
  ): Promise<void> {
    // The execution record (`sent`, with the delivery id) is the record of the send; the outcome event is
    // published only for an action whose rule set consumes it (journeys waiting, rules on action.sent).
    if (action.reportSent)
      await this.#publish([
        outcomeEvent(
          action,
          {
            type: 'action.sent',
            deliveryId: delivery.deliveryId,
            status: delivery.status,
            attempts: delivery.attempts,
          },
          delivery.at,
          redrive,
        ),
      ]);
    if (replayed) {
      this.count('duplicate');
      return;
    }
    this.count('sent');
    this.#d.metrics.decisionToSendSeconds.observe(
      { channel: this.#d.channel },
      Math.max(0, delivery.at - dueAt(action)) / 1000,
    );
    // decidedAt is the triggering event's stream time: for an action an ingested event triggered at once,
    // the time since its ingest acknowledgement. One decided later (a delay, a debounce or digest window,
    // whose `event` is the window's last) carries its trigger and is not an ingest-to-send latency.
    if (!action.delayMs && !action.decision?.trigger && !isEngineType(action.event.type))
      this.#d.metrics.ingestToSendSeconds.observe(
        { channel: this.#d.channel },
        Math.max(0, delivery.at - Date.parse(action.decidedAt)) / 1000,
      );
    if (delivery.attempts > 1)
      this.#d.log.info({ ...actionLogFields(action), attempts: delivery.attempts }, 'sent after retry');
  }

  async deadLettered(
    action: ActionMessage,
    source: InboundMessage,
    failure: Failure,
    redrive?: number,
  ): Promise<void> {
    const now = this.#d.clock.now();
    const { reason, error, attempts } = failure;
    await this.#publish([
      actionDeadLetter(action, source, failure, now, redrive),
      outcomeEvent(
        action,
        {
          type: 'action.failed',
          outcome: reason === 'ambiguous' ? 'ambiguous' : 'dead_lettered',
          reason,
          error,
          attempts,
        },
        now,
        redrive,
      ),
      auditRecord('dead-letter', action, { reason, error, attempts }, now, redrive),
    ]);
    this.#d.metrics.deadLettersTotal.inc({ channel: this.#d.channel, reason });
    this.count('dead_lettered');
    this.#d.log.warn(
      { ...actionLogFields(action), channel: this.#d.channel, reason, error, attempts },
      'action dead-lettered',
    );
  }
}
