/**
 * The one confirmation message after an opt-out (carriers allow exactly one, sent at once): built by the gate
 * when a confident opt-out moves the conversation onto DND, and decided like any action, through every guard.
 * It is marked `optOutConfirmation: { eventId }`, which lets it pass the DND of that opt-out only (the consent
 * guard, at decision and at send time); kill switches, pauses and an escalation still stop it.
 *
 * Exactly once:
 *   - only on the move onto DND: a second STOP while opted out enrolls nothing new and sends nothing;
 *   - its action ID is derived from the opt-out event's ID (`<tenant>.<conversation>.opt-out.<hash>`), not from
 *     the event's stream sequence, so deciding the same opt-out again (a redelivery, the same event at another
 *     sequence) is the same send, deduplicated by ACTIONS and the connector's execution record;
 *   - never for a crisis: a message with any crisis reading, or a conversation escalated by it or before it,
 *     gets no automated confirmation (the escalation wins; a human sees the opt-out in the trail).
 */
import { createHash } from 'node:crypto';
import type { ActionEffect } from '../contracts/effects.js';
import type { Review } from './gate-review.js';
import type { ClassifierVerdict } from './verdict.js';

export const OPT_OUT_CONFIRMATION_RULE = 'opt-out-confirmation';

/** The confirmation's action ID: the same for every decision about the same opt-out event. */
export function confirmationId(tenant: string, conversation: string, eventId: string): string {
  const h = createHash('sha256').update(eventId).digest('hex').slice(0, 20);
  return `${tenant}.${conversation}.opt-out.${h}`;
}

export type ConfirmationPlan =
  | { type: 'send'; action: ActionEffect }
  | { type: 'skip'; reason: 'not-configured' | 'crisis' | 'escalated' | 'no-channel' };

/** What an opt-out that just enrolled DND calls for (after the escalations of the same message). */
export function planConfirmation(r: Review, verdicts: readonly ClassifierVerdict[]): ConfirmationPlan {
  const c = r.tenant.optOutConfirmation;
  if (!c) return { type: 'skip', reason: 'not-configured' };
  if (verdicts.some((v) => v.label === 'crisis' && v.confidence > 0))
    return { type: 'skip', reason: 'crisis' };
  if (r.safety.escalation || r.safety.closed) return { type: 'skip', reason: 'escalated' };
  const { event } = r.input;
  const channel = c.channel ?? (typeof event.attributes.channel === 'string' ? event.attributes.channel : '');
  if (!channel) return { type: 'skip', reason: 'no-channel' };
  return {
    type: 'send',
    action: {
      type: 'action',
      id: confirmationId(event.tenant, event.conversation, event.id),
      channel,
      rule: OPT_OUT_CONFIRMATION_RULE,
      template: c.template,
      variables: { ...c.variables, text: c.text },
      optOutConfirmation: { eventId: event.id },
    },
  };
}
