/**
 * The action a connector receives: the `ActionMessage` (src/contracts/action.ts) conversation actors publish
 * on `act.<partition>.<channel>.<tenant>.<conversation>`, decoded where bytes become an action.
 */
import { type ActionMessage, ActionMessageSchema, looksLikeAction } from '../contracts/action.js';
import { decodeBody } from '../envelope/codec.js';
import { ValidationError } from '../errors/app-error.js';

export { ActionMessageSchema, parseActionSubject } from '../contracts/action.js';

/**
 * Decodes an ACTIONS message body. Parley wrote it, so it is not re-validated: a cheap shape check passes it
 * through; only a body that fails it runs the schema, to throw a ValidationError naming the fields at fault.
 */
export function parseAction(data: Uint8Array, contentType?: string): ActionMessage {
  const body = decodeBody(data, contentType);
  if (looksLikeAction(body)) return body;
  const result = ActionMessageSchema.safeParse(body);
  if (!result.success) {
    throw new ValidationError(
      'invalid action',
      result.error.issues.map((i) => ({ path: i.path.join('.') || 'body', message: i.message })),
    );
  }
  return result.data;
}

/** The ms timestamp before which the action must not be sent (decidedAt + delayMs). */
export function dueAt(action: ActionMessage): number {
  const decided = Date.parse(action.decidedAt);
  return (Number.isFinite(decided) ? decided : 0) + (action.delayMs ?? 0);
}
