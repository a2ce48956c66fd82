/**
 * Idempotency keys for ingested events.
 *
 * An event sent without `id` gets one derived from what it says, after seed 002's
 * `sha256(provider|oauth_id|kind|lead_id|action_id|ts_bucket)`: here
 * `sha256(tenant, conversation, type, canonical attributes, floor(occurredAt / window))`. A noisy producer
 * that reports the same fact twice within one window is deduplicated; the same fact in another window is a
 * new event. (Two reports straddling a window boundary are two events: a fixed bucket, as in the seed.)
 *
 * The stream-wide dedupe key (Nats-Msg-Id) is the id scoped by the tenant and, when the deployment has a
 * dedupe secret, keyed with it (src/envelope/dedupe-key.ts), so no other tenant can suppress an event by
 * choosing the same ids or by setting that header on a direct NATS publish.
 */
import { createHash } from 'node:crypto';
import { createDedupeKey } from '../envelope/dedupe-key.js';

/** JSON with object keys sorted at every level: equal values give equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface DerivableEvent {
  type: string;
  conversation: string;
  occurredAt: string;
  attributes?: Record<string, unknown>;
}

export const DERIVED_ID_PREFIX = 'dk_';

/** The id of an event sent without one: `dk_` and 32 hex digits (128 bits of SHA-256). */
export function derivedEventId(tenant: string, event: DerivableEvent, windowSeconds: number): string {
  const bucket = Math.floor(Date.parse(event.occurredAt) / (windowSeconds * 1000));
  const material = JSON.stringify([
    tenant,
    event.conversation,
    event.type,
    canonicalJson(event.attributes ?? {}),
    bucket,
  ]);
  return DERIVED_ID_PREFIX + createHash('sha256').update(material).digest('hex').slice(0, 32);
}

/** Nats-Msg-Id of an ingested event without a dedupe secret: unique per tenant. */
export const ingestMsgId = createDedupeKey();
