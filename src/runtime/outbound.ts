/**
 * Effects -> messages. The one place that decides subjects and deterministic message IDs for what an
 * actor emits: `<tenant>.<conversation>.<source seq>.<effect index>` — the same on every redelivery or
 * replay of the source event, so a republish lands in the stream's duplicate window.
 */

import { type ActionMessage, actionId, actionSubject } from '../contracts/action.js';
import type { Effect } from '../contracts/effects.js';
import { type EventEnvelope, SCHEMA_VERSION } from '../contracts/envelope.js';
import { WAKE_EVENT_TYPE } from '../contracts/event-types.js';
import {
  CONTENT_TYPE_JSON,
  CONTENT_TYPE_MSGPACK,
  HDR_CONTENT_TYPE,
  HDR_CONVERSATION,
  HDR_ERROR,
  HDR_MSG_ID,
  HDR_RECHECK,
  HDR_SCHEMA,
  HDR_SOURCE_SEQ,
  HDR_TENANT,
  HDR_TRACE_ID,
  HDR_TYPE,
  messageHeaders,
} from '../contracts/headers.js';
import type { InboundMessage, OutboundMessage } from '../contracts/ports.js';
import { encode } from '../envelope/codec.js';
import { parseEventSubject } from '../envelope/event-message.js';

export function effectId(
  event: Pick<EventEnvelope, 'tenant' | 'conversation'>,
  seq: number,
  index: number,
): string {
  return actionId(event.tenant, event.conversation, seq, index);
}

export type { ActionMessage } from '../contracts/action.js';
export { actionSubject } from '../contracts/action.js';

function headersFor(
  id: string,
  type: string,
  event: Pick<EventEnvelope, 'tenant' | 'conversation' | 'traceId'>,
  seq: number,
): Record<string, string> {
  return messageHeaders(id, type, event, { [HDR_SOURCE_SEQ]: String(seq) });
}

export function effectToMessage(
  effect: Effect,
  event: EventEnvelope,
  seq: number,
  index: number,
  now: number,
  partition: number,
): OutboundMessage {
  const id = (effect.type === 'action' && effect.id) || effectId(event, seq, index);
  const { tenant, conversation } = event;
  switch (effect.type) {
    case 'action': {
      const body: ActionMessage = {
        schema: SCHEMA_VERSION,
        id,
        type: 'action',
        tenant,
        conversation,
        channel: effect.channel,
        rule: effect.rule,
        template: effect.template,
        variables: effect.variables,
        ...(effect.delayMs ? { delayMs: effect.delayMs } : {}),
        ...(effect.decision ? { decision: effect.decision } : {}),
        ...(effect.reportSent ? { reportSent: true } : {}),
        ...(effect.approval ? { approval: effect.approval } : {}),
        ...(effect.digest ? { digest: effect.digest } : {}),
        ...(effect.optOutConfirmation ? { optOutConfirmation: effect.optOutConfirmation } : {}),
        event: effect.event ?? { id: event.id, type: event.type, attributes: event.attributes, seq },
        decidedAt: new Date(now).toISOString(),
        ...(event.traceId ? { traceId: event.traceId } : {}),
      };
      return {
        subject: actionSubject(partition, effect.channel, tenant, conversation),
        data: encode(body),
        msgId: id,
        headers: headersFor(id, 'action', event, seq),
      };
    }
    case 'audit':
      return {
        subject: `audit.${effect.kind}.${tenant}.${conversation}`,
        data: encode({
          schema: SCHEMA_VERSION,
          id,
          kind: effect.kind,
          tenant,
          conversation,
          sourceSeq: seq,
          eventId: event.id,
          at: new Date(now).toISOString(),
          ...effect.record,
        }),
        msgId: id,
        headers: headersFor(id, `audit.${effect.kind}`, event, seq),
      };
    case 'escalate':
      return {
        subject: `esc.${tenant}.${conversation}`,
        data: encode({
          schema: SCHEMA_VERSION,
          id,
          tenant,
          conversation,
          escalationId: effect.escalationId ?? id,
          reason: effect.reason,
          priority: effect.priority,
          evidence: effect.evidence,
          ...(effect.suggestedNext ? { suggestedNext: effect.suggestedNext } : {}),
          sourceSeq: seq,
          eventId: event.id,
          at: new Date(now).toISOString(),
        }),
        msgId: id,
        headers: headersFor(id, 'escalation', event, seq),
      };
    case 'emit': {
      const emitted: EventEnvelope = {
        schema: SCHEMA_VERSION,
        id,
        type: effect.eventType,
        tenant,
        conversation,
        occurredAt: new Date(now).toISOString(),
        attributes: effect.attributes,
        ...(event.traceId ? { traceId: event.traceId } : {}),
      };
      return {
        subject: `ingest.${tenant}.${conversation}.${effect.eventType}`,
        data: encode(emitted),
        msgId: id,
        headers: headersFor(id, effect.eventType, event, seq),
      };
    }
    case 'store':
      return {
        subject: `$KV.${effect.bucket}.${effect.key}`,
        data:
          effect.value === null ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(effect.value)),
        msgId: id,
        headers: {
          ...headersFor(id, `store.${effect.bucket}`, event, seq),
          [HDR_CONTENT_TYPE]: CONTENT_TYPE_JSON,
          ...(effect.value === null ? { 'KV-Operation': 'DEL' } : {}),
        },
      };
    case 'wake':
      throw new Error('wake effects are timer-index writes, not messages (see ActorCell)');
  }
}

/** Marks the actions among `messages` as decided by a redo (HDR_RECHECK). */
export function markRecheck(messages: readonly OutboundMessage[]): void {
  for (const m of messages) if (m.subject.startsWith('act.') && m.headers) m.headers[HDR_RECHECK] = '1';
}

/** The event type of a timer wake-up; the conversation actor fires its due timers on it. */
export { WAKE_EVENT_TYPE } from '../contracts/event-types.js';

/**
 * The wake-up event for a conversation whose timer index entry is due. Its ID is derived from the
 * conversation and the due time, so two publishers (an old and a new owner) land in the duplicate window.
 */
export function wakeMessage(tenant: string, conversation: string, due: number): OutboundMessage {
  const id = `wake.${tenant}.${conversation}.${due}`;
  const event: EventEnvelope = {
    schema: SCHEMA_VERSION,
    id,
    type: WAKE_EVENT_TYPE,
    tenant,
    conversation,
    occurredAt: new Date(due).toISOString(),
    attributes: { due },
  };
  return {
    subject: `ingest.${tenant}.${conversation}.${WAKE_EVENT_TYPE}`,
    data: encode(event),
    msgId: id,
    headers: {
      [HDR_MSG_ID]: id,
      [HDR_CONTENT_TYPE]: CONTENT_TYPE_MSGPACK,
      [HDR_TYPE]: WAKE_EVENT_TYPE,
      [HDR_TENANT]: tenant,
      [HDR_CONVERSATION]: conversation,
      [HDR_SCHEMA]: String(SCHEMA_VERSION),
    },
  };
}

/**
 * A dead letter for an event that cannot be processed: the original bytes and headers, the reason and
 * the error, on `dlq.events.<tenant>`. The ID is derived from the stream sequence, so it is written once.
 */
export function deadLetter(
  msg: InboundMessage,
  reason: string,
  error: string,
  attempts: number,
): OutboundMessage {
  const subject = parseEventSubject(msg.subject);
  const tenant = subject?.tenant ?? '_unknown';
  const conversation = subject?.conversation ?? '_unknown';
  const id = `dlq.events.${msg.seq}`;
  return {
    subject: `dlq.events.${tenant}`,
    data: encode({
      schema: SCHEMA_VERSION,
      id,
      kind: 'event',
      reason,
      error,
      attempts,
      source: {
        stream: 'EVENTS',
        seq: msg.seq,
        subject: msg.subject,
        timestamp: new Date(msg.timestampMs).toISOString(),
      },
      headers: Object.fromEntries(
        [HDR_MSG_ID, HDR_CONTENT_TYPE, HDR_TYPE, HDR_TRACE_ID].flatMap((h) => {
          const v = msg.header(h);
          return v === undefined ? [] : [[h, v]];
        }),
      ),
      data: msg.data,
    }),
    msgId: id,
    headers: {
      [HDR_MSG_ID]: id,
      [HDR_CONTENT_TYPE]: CONTENT_TYPE_MSGPACK,
      [HDR_TYPE]: 'dead-letter',
      [HDR_TENANT]: tenant,
      [HDR_CONVERSATION]: conversation,
      [HDR_SOURCE_SEQ]: String(msg.seq),
      [HDR_ERROR]: `${reason}: ${error}`.slice(0, 200).replace(/[\r\n]/g, ' '),
    },
  };
}
