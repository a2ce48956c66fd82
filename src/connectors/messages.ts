/**
 * What the connectors write, as messages with deterministic IDs derived from the action ID:
 * - outcome events `action.sent` / `action.failed` into EVENTS (via ingest.<tenant>.<conversation>.<type>),
 *   so journeys can advance on them;
 * - dead letters on `dlq.<channel>.<tenant>` (the shape of the actors' event dead letters, kind "action"),
 *   carrying the original action bytes so `parley dlq redrive` republishes them unchanged;
 * - audit records `audit.<kind>.<tenant>.<conversation>` (blocked by the pre-send gate, dead-lettered,
 *   redriven).
 */

import type { ActionMessage } from '../contracts/action.js';
import { type EventEnvelope, SCHEMA_VERSION } from '../contracts/envelope.js';
import {
  CONTENT_TYPE_MSGPACK,
  HDR_ACTION_ID,
  HDR_CONTENT_TYPE,
  HDR_ERROR,
  HDR_MSG_ID,
  HDR_TENANT,
  HDR_TYPE,
  messageHeaders,
} from '../contracts/headers.js';
import type { OutboundMessage } from '../contracts/ports.js';
import { encode } from '../envelope/codec.js';

export { HDR_ACTION_ID, HDR_REDRIVE } from '../contracts/headers.js';

export type Outcome =
  | { type: 'action.sent'; deliveryId: string; status: string; attempts: number }
  | {
      type: 'action.failed';
      outcome: 'dead_lettered' | 'blocked' | 'ambiguous';
      reason: string;
      error?: string;
      attempts: number;
    };

function suffix(redrive: number | undefined): string {
  return redrive === undefined ? '' : `.r${redrive}`;
}

function baseHeaders(id: string, type: string, action: ActionMessage): Record<string, string> {
  return messageHeaders(id, type, action, { [HDR_ACTION_ID]: action.id });
}

function clean(text: string): string {
  return text.slice(0, 200).replace(/[\r\n]/g, ' ');
}

/** The decision behind an action, flat, for its outcome event: rules version, variant, journey step. */
function decisionAttributes(d: NonNullable<ActionMessage['decision']>): Record<string, unknown> {
  return {
    rulesVersion: d.rulesVersion,
    ...(d.variant ? { variant: d.variant } : {}),
    ...(d.journey ? { journey: d.journey.id, journeyVersion: d.journey.version, step: d.journey.step } : {}),
  };
}

export function outcomeEvent(
  action: ActionMessage,
  outcome: Outcome,
  now: number,
  redrive?: number,
): OutboundMessage {
  const kind = outcome.type === 'action.sent' ? 'sent' : 'failed';
  const id = `${action.id}.${kind}${suffix(redrive)}`;
  const { type, ...details } = outcome;
  const event: EventEnvelope = {
    schema: SCHEMA_VERSION,
    id,
    type,
    tenant: action.tenant,
    conversation: action.conversation,
    occurredAt: new Date(now).toISOString(),
    attributes: {
      action: action.id,
      channel: action.channel,
      rule: action.rule,
      template: action.template,
      sourceEvent: action.event.id,
      ...(action.decision ? decisionAttributes(action.decision) : {}),
      ...details,
    },
    ...(action.traceId ? { traceId: action.traceId } : {}),
  };
  return {
    subject: `ingest.${action.tenant}.${action.conversation}.${type}`,
    data: encode(event),
    msgId: id,
    headers: baseHeaders(id, type, action),
  };
}

export interface ActionSource {
  seq: number;
  subject: string;
  timestampMs: number;
  data: Uint8Array;
}

/** The body of an action dead letter (kind "action"). */
export interface ActionDeadLetter {
  schema: number;
  id: string;
  kind: 'action';
  reason: string;
  error: string;
  attempts: number;
  channel: string;
  action: { id: string; tenant: string; conversation: string; rule: string; template: string };
  source: { stream: 'ACTIONS'; seq: number; subject: string; timestamp: string };
  redrive?: number;
  at: string;
  data: Uint8Array;
}

export function actionDeadLetter(
  action: ActionMessage,
  source: ActionSource,
  failure: { reason: string; error: string; attempts: number },
  now: number,
  redrive?: number,
): OutboundMessage {
  const id = `dlq.${action.channel}.${action.id}${suffix(redrive)}`;
  const body: ActionDeadLetter = {
    schema: SCHEMA_VERSION,
    id,
    kind: 'action',
    reason: failure.reason,
    error: failure.error,
    attempts: failure.attempts,
    channel: action.channel,
    action: {
      id: action.id,
      tenant: action.tenant,
      conversation: action.conversation,
      rule: action.rule,
      template: action.template,
    },
    source: {
      stream: 'ACTIONS',
      seq: source.seq,
      subject: source.subject,
      timestamp: new Date(source.timestampMs).toISOString(),
    },
    ...(redrive === undefined ? {} : { redrive }),
    at: new Date(now).toISOString(),
    data: source.data,
  };
  return {
    subject: `dlq.${action.channel}.${action.tenant}`,
    data: encode(body),
    msgId: id,
    headers: {
      ...baseHeaders(id, 'dead-letter', action),
      [HDR_ERROR]: clean(`${failure.reason}: ${failure.error}`),
    },
  };
}

/** A dead letter for bytes that are not an action at all: kept with the subject's tenant. */
export function undecodableDeadLetter(
  channel: string,
  tenant: string,
  source: ActionSource,
  error: string,
  now: number,
): OutboundMessage {
  const id = `dlq.${channel}.seq.${source.seq}`;
  return {
    subject: `dlq.${channel}.${tenant}`,
    data: encode({
      schema: SCHEMA_VERSION,
      id,
      kind: 'action',
      reason: 'invalid_action',
      error,
      attempts: 0,
      channel,
      source: {
        stream: 'ACTIONS',
        seq: source.seq,
        subject: source.subject,
        timestamp: new Date(source.timestampMs).toISOString(),
      },
      at: new Date(now).toISOString(),
      data: source.data,
    }),
    msgId: id,
    headers: {
      [HDR_MSG_ID]: id,
      [HDR_CONTENT_TYPE]: CONTENT_TYPE_MSGPACK,
      [HDR_TYPE]: 'dead-letter',
      [HDR_TENANT]: tenant,
      [HDR_ERROR]: clean(`invalid_action: ${error}`),
    },
  };
}

export function auditRecord(
  kind: 'blocked' | 'dead-letter' | 'redrive' | 'dlq-drop',
  action: ActionMessage,
  record: Record<string, unknown>,
  now: number,
  redrive?: number,
): OutboundMessage {
  const id = `${action.id}.${kind}${suffix(redrive)}`;
  return {
    subject: `audit.${kind}.${action.tenant}.${action.conversation}`,
    data: encode({
      schema: SCHEMA_VERSION,
      id,
      kind,
      tenant: action.tenant,
      conversation: action.conversation,
      action: action.id,
      channel: action.channel,
      rule: action.rule,
      template: action.template,
      sourceSeq: action.event.seq,
      eventId: action.event.id,
      at: new Date(now).toISOString(),
      ...record,
    }),
    msgId: id,
    headers: baseHeaders(id, `audit.${kind}`, action),
  };
}
