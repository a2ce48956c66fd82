/**
 * The event envelope: the one shape every event has on the EVENTS stream, validated with zod at every
 * boundary where bytes become an event (HTTP ingest, direct NATS publishes, replay).
 * Identifiers are subject tokens, so they can never inject `.`, `*`, `>` or whitespace into a subject.
 */
import { z } from 'zod';

export const SCHEMA_VERSION = 1;

/** One subject token: letters, digits, `-` and `_`. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]+$/;
/** An event type: tokens joined by dots (`message.received`). */
export const TYPE_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * The first token of event types only Parley itself publishes: action outcomes, detector signals, timer
 * wakes, operator events (escalation resolutions, consent changes, triggers). Tenants cannot publish them.
 */
export const ENGINE_TYPE_PREFIXES = ['action', 'detector', 'timer', 'admin'] as const;

/** The reserved first token of an engine-owned type (`action` for `action.sent`, and a bare `action`). */
export function engineTypePrefix(type: string): (typeof ENGINE_TYPE_PREFIXES)[number] | undefined {
  const first = type.split('.', 1)[0];
  return ENGINE_TYPE_PREFIXES.find((p) => p === first);
}

export function isEngineType(type: string): boolean {
  return engineTypePrefix(type) !== undefined;
}

export const TokenSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(TOKEN_PATTERN, 'must be a subject token: letters, digits, - and _ only');

export const EventTypeSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(TYPE_PATTERN, 'must be dot-separated tokens of letters, digits, - and _');

export const EventEnvelopeSchema = z
  .object({
    schema: z.literal(SCHEMA_VERSION).default(SCHEMA_VERSION).describe('Envelope schema version'),
    id: z.string().min(1).max(200).describe('Event id; also the Nats-Msg-Id used for dedupe'),
    type: EventTypeSchema,
    tenant: TokenSchema,
    conversation: TokenSchema,
    occurredAt: z.iso.datetime({ offset: true }).describe('When it happened (ISO-8601)'),
    attributes: z.record(z.string(), z.unknown()).default({}),
    traceId: z.string().max(128).optional().describe('Follows the event through every stage'),
  })
  .strict();

export type EventEnvelope = z.output<typeof EventEnvelopeSchema>;
export type EventEnvelopeInput = z.input<typeof EventEnvelopeSchema>;
