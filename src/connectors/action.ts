/**
 * The action a connector receives: the `ActionMessage` conversation actors publish on
 * `act.<partition>.<channel>.<tenant>.<conversation>` (src/runtime/outbound.ts), validated at the boundary where bytes
 * become an action. The action ID `<tenant>.<conversation>.<source seq>.<index>` is the idempotency key of
 * everything downstream: execution record, provider idempotency key, webhook-id, outcome event IDs.
 */
import { z } from 'zod';
import { decodeBody } from '../envelope/codec.js';
import { TokenSchema } from '../envelope/envelope.js';
import { ValidationError } from '../errors/app-error.js';
import type { ActionMessage } from '../runtime/outbound.js';

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
    reportSent: z.boolean().optional(),
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

/** Parses an ACTIONS message body; throws ValidationError naming the fields at fault. */
export function parseAction(data: Uint8Array, contentType?: string): ActionMessage {
  const result = ActionMessageSchema.safeParse(decodeBody(data, contentType));
  if (!result.success) {
    throw new ValidationError(
      'invalid action',
      result.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message })),
    );
  }
  return result.data as ActionMessage;
}

/** `act.<partition>.<channel>.<tenant>.<conversation>` -> its parts; undefined if the subject is not one. */
export function parseActionSubject(
  subject: string,
): { partition: number; channel: string; tenant: string; conversation: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'act' || !/^\d+$/.test(parts[1]!)) return undefined;
  return { partition: Number(parts[1]), channel: parts[2]!, tenant: parts[3]!, conversation: parts[4]! };
}

/** The ms timestamp before which the action must not be sent (decidedAt + delayMs). */
export function dueAt(action: ActionMessage): number {
  const decided = Date.parse(action.decidedAt);
  return (Number.isFinite(decided) ? decided : 0) + (action.delayMs ?? 0);
}
