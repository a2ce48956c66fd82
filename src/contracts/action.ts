/**
 * The action message: what a conversation actor publishes on ACTIONS and a connector sends. One schema,
 * its type inferred. Actors build it (src/runtime/outbound.ts); connectors decode it (src/connectors/
 * action.ts) without re-validating what Parley wrote: the schema runs only when the cheap shape check fails,
 * to name the fields at fault in the dead letter.
 *
 * Subject `act.<partition>.<channel>.<tenant>.<conversation>`: partitioned like EVENTS (the partition is the
 * source event's), so the owner of a partition's events also owns its sends. The action ID
 * `<tenant>.<conversation>.<source seq>.<effect index>` is the idempotency key of everything downstream:
 * Nats-Msg-Id, execution record, provider idempotency key, webhook-id, outcome event IDs.
 */
import { z } from 'zod';
import { TOKEN_PATTERN, TokenSchema } from './envelope.js';

const DecisionMetaSchema = z.object({
  rulesVersion: z.string(),
  variant: z.string().optional(),
  journey: z.object({ id: z.string(), version: z.string(), step: z.string() }).optional(),
  trigger: z.object({ eventId: z.string(), type: z.string(), seq: z.number() }).optional(),
});

export const ActionMessageSchema = z
  .object({
    schema: z.number().int(),
    id: z.string().min(1).max(200),
    type: z.literal('action'),
    tenant: TokenSchema,
    conversation: TokenSchema,
    channel: TokenSchema,
    rule: z.string(),
    template: z.string(),
    variables: z.record(z.string(), z.unknown()).default({}),
    delayMs: z.number().min(0).optional(),
    /** Rule set version, A/B variant and journey step behind the action. */
    decision: DecisionMetaSchema.optional(),
    /** Publish the `action.sent` outcome into EVENTS (something in the rule set consumes it). */
    reportSent: z.boolean().optional(),
    /** The safety gate's approval (stage, classifiers, guards): ACTIONS is the approvals' audit. */
    approval: z.record(z.string(), z.unknown()).optional(),
    /** A digest's collected events (rules with `digest`), each exactly once. */
    digest: z
      .object({
        count: z.number().int(),
        events: z.array(
          z.object({
            id: z.string(),
            type: z.string(),
            occurredAt: z.string(),
            attributes: z.record(z.string(), z.unknown()),
          }),
        ),
      })
      .optional(),
    /** The confirmation of the opt-out in this event (the safety gate's): may pass that opt-out's DND. */
    optOutConfirmation: z.object({ eventId: z.string() }).optional(),
    event: z.object({
      id: z.string(),
      type: z.string(),
      attributes: z.record(z.string(), z.unknown()).default({}),
      seq: z.number().int(),
    }),
    decidedAt: z.string(),
    traceId: z.string().optional(),
  })
  .passthrough();

/** The body of an action on ACTIONS: everything a connector needs, nothing it must look up. */
export type ActionMessage = z.output<typeof ActionMessageSchema>;

export function actionId(tenant: string, conversation: string, seq: number, index: number): string {
  return `${tenant}.${conversation}.${seq}.${index}`;
}

export function actionSubject(
  partition: number,
  channel: string,
  tenant: string,
  conversation: string,
): string {
  return `act.${partition}.${channel}.${tenant}.${conversation}`;
}

/** `act.<partition>.<channel>.<tenant>.<conversation>` -> its parts; undefined if the subject is not one. */
export function parseActionSubject(
  subject: string,
): { partition: number; channel: string; tenant: string; conversation: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'act' || !/^\d+$/.test(parts[1]!)) return undefined;
  return { partition: Number(parts[1]), channel: parts[2]!, tenant: parts[3]!, conversation: parts[4]! };
}

const isToken = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= 128 && TOKEN_PATTERN.test(v);

/**
 * The shape check for a decoded action written by Parley: the fields a connector relies on, with their
 * types. Cheap (no schema pass); false sends the body through ActionMessageSchema for the error.
 */
export function looksLikeAction(v: unknown): v is ActionMessage {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as Record<string, unknown>;
  const e = a.event as Record<string, unknown> | undefined;
  return (
    a.type === 'action' &&
    typeof a.schema === 'number' &&
    typeof a.id === 'string' &&
    a.id.length > 0 &&
    a.id.length <= 200 &&
    isToken(a.tenant) &&
    isToken(a.conversation) &&
    isToken(a.channel) &&
    typeof a.rule === 'string' &&
    typeof a.template === 'string' &&
    typeof a.variables === 'object' &&
    a.variables !== null &&
    !Array.isArray(a.variables) &&
    typeof a.decidedAt === 'string' &&
    (a.delayMs === undefined || (typeof a.delayMs === 'number' && a.delayMs >= 0)) &&
    typeof e === 'object' &&
    e !== null &&
    typeof e.id === 'string' &&
    typeof e.type === 'string' &&
    typeof e.attributes === 'object' &&
    e.attributes !== null &&
    Number.isInteger(e.seq)
  );
}

/** The fields every log line about an action carries, so one trace id finds its whole path. */
export function actionLogFields(a: Pick<ActionMessage, 'id' | 'tenant' | 'conversation' | 'traceId'>): {
  action: string;
  tenant: string;
  conversation: string;
  traceId?: string;
} {
  return {
    action: a.id,
    tenant: a.tenant,
    conversation: a.conversation,
    ...(a.traceId ? { traceId: a.traceId } : {}),
  };
}
