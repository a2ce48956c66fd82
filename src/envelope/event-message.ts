/**
 * Turns a raw EVENTS message into a validated envelope, and an envelope into the body and headers to
 * publish. Subject tokens (tenant, conversation, type) are authoritative: a body that contradicts its
 * subject is rejected, and a body that omits them (a bare `nats pub`) gets them from the subject.
 *
 * With limits (what the actor passes), an event is held to the HTTP ingest's attribute limits whatever path
 * it came by: the body's nesting is measured before it is decoded (so hostile depth never reaches the
 * recursive decoder), then depth, size, string and key lengths are checked; a violation throws
 * LimitsExceededError naming the field.
 */

import { type EventEnvelope, EventEnvelopeSchema } from '../contracts/envelope.js';
import { HDR_CONTENT_TYPE, HDR_MSG_ID, HDR_TRACE_ID, messageHeaders } from '../contracts/headers.js';
import { ValidationError } from '../errors/app-error.js';
import { type AttributeLimits, checkAttributes, LimitsExceededError } from './attribute-limits.js';
import { decodeBody, encode } from './codec.js';

export interface EventSubject {
  partition: number;
  tenant: string;
  conversation: string;
  type: string;
}

/** Parses `evt.<partition>.<tenant>.<conversation>.<type…>`; undefined if the subject is not one. */
export function parseEventSubject(subject: string): EventSubject | undefined {
  const parts = subject.split('.');
  if (parts.length < 5 || parts[0] !== 'evt') return undefined;
  const partition = Number(parts[1]);
  if (!Number.isInteger(partition)) return undefined;
  return { partition, tenant: parts[2]!, conversation: parts[3]!, type: parts.slice(4).join('.') };
}

export interface RawEvent {
  subject: string;
  data: Uint8Array;
  header(name: string): string | undefined;
  seq: number;
  /** Stream timestamp in ms, used when the body has no occurredAt. */
  timestampMs: number;
}

export function parseEventMessage(raw: RawEvent, limits?: AttributeLimits): EventEnvelope {
  const subject = parseEventSubject(raw.subject);
  if (!subject) throw new ValidationError(`not an event subject: ${raw.subject}`);
  // The envelope is one level above its attributes.
  const body = decodeBody(
    raw.data,
    raw.header(HDR_CONTENT_TYPE),
    limits ? limits.maxAttributeDepth + 1 : undefined,
  );
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('event body must be an object', [
      { path: 'body', message: `got ${Array.isArray(body) ? 'array' : typeof body}` },
    ]);
  }
  const b = body as Record<string, unknown>;
  const mismatches = (['tenant', 'conversation', 'type'] as const)
    .filter((k) => b[k] !== undefined && b[k] !== subject[k])
    .map((k) => ({ path: k, message: `body says "${String(b[k])}" but the subject says "${subject[k]}"` }));
  if (mismatches.length > 0) throw new ValidationError('event body contradicts its subject', mismatches);
  const result = EventEnvelopeSchema.safeParse({
    ...b,
    id: b.id ?? raw.header(HDR_MSG_ID) ?? `seq-${raw.seq}`,
    tenant: subject.tenant,
    conversation: subject.conversation,
    type: subject.type,
    occurredAt: b.occurredAt ?? new Date(raw.timestampMs).toISOString(),
    traceId: b.traceId ?? raw.header(HDR_TRACE_ID),
  });
  if (!result.success) {
    throw new ValidationError(
      'invalid event',
      result.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message })),
    );
  }
  if (limits) {
    // The body's size bounds the attributes' JSON (6x for msgpack, about 1x for JSON): small bodies skip it.
    const issues = checkAttributes(result.data.attributes, limits, raw.data.length);
    if (issues.length > 0) {
      throw new LimitsExceededError(
        'event exceeds the ingest limits',
        issues.map((i) => ({ path: ['attributes', ...i.path].join('.'), message: i.message })),
      );
    }
  }
  return result.data;
}

/** Subject a producer publishes an event to; the server maps it to its partition. */
export function ingestSubject(event: Pick<EventEnvelope, 'tenant' | 'conversation' | 'type'>): string {
  return `ingest.${event.tenant}.${event.conversation}.${event.type}`;
}

export function eventHeaders(event: EventEnvelope): Record<string, string> {
  return messageHeaders(event.id, event.type, event);
}

export function encodeEvent(event: EventEnvelope): Uint8Array {
  return encode(event);
}
