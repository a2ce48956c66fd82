/**
 * The HTTP API's request and response shapes, as zod schemas: requests are parsed with them at the boundary
 * and /openapi.json is generated from them, so the documentation cannot drift from what is enforced.
 *
 * What must stay true (SPEC "Contracts"): an event is `{ id?, type, conversation, occurredAt, attributes? }`;
 * `conversation` is a subject token and `type` dot-separated tokens, so nothing a client sends can put a `.`,
 * `*`, `>` or whitespace into a subject; the response is `{ results: [{ id, seq, duplicate }] }`.
 */
import { z } from 'zod';
import {
  type AttributeLimits,
  checkAttributes,
  DEFAULT_ATTRIBUTE_LIMITS,
} from '../envelope/attribute-limits.js';
import { EventTypeSchema, engineTypePrefix, TokenSchema } from '../envelope/envelope.js';

/** Printable ASCII without spaces: safe as a Nats-Msg-Id header value. */
const ID_PATTERN = /^[\x21-\x7e]+$/;

export const EventIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(ID_PATTERN, 'must be printable ASCII without spaces')
  .describe('Idempotency key, unique per tenant; omitted: derived from the event (see docs/api.md)');

export interface IngestLimits extends AttributeLimits {
  /** How far occurredAt may lie in the future, in seconds. */
  maxFutureSeconds: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = Object.freeze({
  ...DEFAULT_ATTRIBUTE_LIMITS,
  maxFutureSeconds: 600,
});

/** Event types under this prefix come only from operators (src/ops, POST /v1/trigger), never from tenants. */
export const RESERVED_TYPE_PREFIX = 'admin';

/** The event schema for given limits; `now` is read at validation time (occurredAt in the future). */
export function ingestEventSchema(limits: IngestLimits, now: () => number = Date.now) {
  return z
    .object({
      id: EventIdSchema.optional(),
      type: EventTypeSchema.superRefine((t, ctx) => {
        const prefix = engineTypePrefix(t);
        if (!prefix) return;
        ctx.addIssue({
          code: 'custom',
          message:
            prefix === RESERVED_TYPE_PREFIX
              ? `the "${RESERVED_TYPE_PREFIX}." types are reserved for operator events (escalation resolutions, consent changes, triggers)`
              : `the "${prefix}." types are emitted by Parley itself (action outcomes, detector signals, timer wakes)`,
        });
      }).describe(
        'Event type: dot-separated tokens of letters, digits, - and _ (not action., detector., timer., admin.)',
      ),
      conversation: TokenSchema.describe('Conversation id: letters, digits, - and _'),
      occurredAt: z.iso
        .datetime({ offset: true })
        .describe('When it happened, ISO-8601 with offset; old times are accepted (backfill)'),
      attributes: z
        .record(z.string(), z.unknown())
        .optional()
        .describe('Free-form JSON object (limits on depth, size, string and key length)'),
      tenant: TokenSchema.optional().describe('Optional; must equal the tenant of the credential (else 403)'),
      traceId: z
        .string()
        .max(128)
        .regex(ID_PATTERN, 'must be printable ASCII without spaces')
        .optional()
        .describe('Trace id followed through every stage; default from traceparent or generated'),
    })
    .strict()
    .superRefine((event, ctx) => {
      const at = Date.parse(event.occurredAt);
      if (Number.isFinite(at) && at > now() + limits.maxFutureSeconds * 1000) {
        ctx.addIssue({
          code: 'custom',
          path: ['occurredAt'],
          message: `more than ${limits.maxFutureSeconds} seconds in the future`,
        });
      }
      if (event.attributes) {
        for (const issue of checkAttributes(event.attributes, limits)) {
          ctx.addIssue({ code: 'custom', path: ['attributes', ...issue.path], message: issue.message });
        }
      }
    })
    .describe('One event');
}

export type IngestEvent = z.output<ReturnType<typeof ingestEventSchema>>;

/** The batch envelope; its items are validated one by one with the event schema (errors per index). */
export function ingestBatchSchema(maxBatch: number) {
  return z
    .object({
      events: z
        .array(z.unknown())
        .min(1, 'at least one event')
        .max(maxBatch, `at most ${maxBatch} events per request`)
        .describe(`1 to ${maxBatch} events, published in this order`),
    })
    .strict();
}

/** For the OpenAPI document: the request body is one event or a batch of them. */
export function ingestBodySchema(limits: IngestLimits, maxBatch: number) {
  const event = ingestEventSchema(limits);
  return z.union([
    event,
    z
      .object({ events: z.array(event).min(1).max(maxBatch) })
      .strict()
      .describe('A batch of events'),
  ]);
}

export const IngestResultSchema = z.object({
  id: z.string().describe('The event id: the one sent, or the derived one'),
  seq: z.number().int().describe('EVENTS stream sequence (for a duplicate: the original one)'),
  duplicate: z.boolean().describe('Already stored earlier with this id (nothing new was written)'),
});

export const IngestResponseSchema = z
  .object({ results: z.array(IngestResultSchema).describe('One per event, in request order') })
  .describe('Every event is durably stored (acknowledged by JetStream)');

export const ErrorIssueSchema = z.object({
  path: z.string().describe('Dotted path of the field at fault in the request (events.3.conversation)'),
  field: z.string().describe('The field within the event (or request) at fault'),
  index: z.number().int().optional().describe('Index of the event in a batch'),
  message: z.string(),
});

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable code: VALIDATION_FAILED, UNAUTHORIZED, FORBIDDEN, UNAVAILABLE, …'),
    message: z.string(),
    issues: z.array(ErrorIssueSchema).optional(),
  }),
});

export const ConversationParamsSchema = z.object({ conversation: TokenSchema });
export const AdminConversationParamsSchema = z.object({ tenant: TokenSchema, conversation: TokenSchema });

export const TrailEntrySchema = z.object({
  seq: z.number().int().describe('AUDIT stream sequence'),
  kind: z.string().describe('Audit kind (the subject token after audit.)'),
  time: z.string().describe('When the record was stored'),
  record: z.unknown().describe('The decision record as written'),
});

export const ConversationResponseSchema = z.object({
  tenant: z.string(),
  conversation: z.string(),
  seq: z.number().int().describe('Last EVENTS sequence applied to this conversation'),
  state: z.unknown().describe('The conversation state as stored in the parley-state bucket'),
  trail: z.array(TrailEntrySchema).describe('Recent decision trail from AUDIT, oldest first'),
});

export const ReadinessResponseSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
});

export const HealthResponseSchema = z.object({ status: z.literal('ok') });
