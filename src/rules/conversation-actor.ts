/**
 * The conversation actor kind: for each event, update the conversation's counters and order digest, and
 * ask the rule set which actions to take. Pure: the rule set and the time come in through the context.
 */

import type { ActorKind, TransitionContext } from '../contracts/actor-kind.js';
import type { Decider, Evaluation } from '../contracts/conversation/decider.js';
import type { SafetyGate, SafetySwitches } from '../contracts/conversation/gate.js';
import {
  type ConversationState,
  initialConversationState,
  nextDigest,
} from '../contracts/conversation/state.js';
import type { Effect } from '../contracts/effects.js';
import { ACTION_SENT } from '../contracts/event-types.js';

export type { Decider, Evaluation, EvaluationContext } from '../contracts/conversation/decider.js';

export interface ConversationContext extends TransitionContext {
  rules: Decider;
  /** Every proposed action passes through it; default passThroughGate. */
  gate: SafetyGate;
  /** Kill switches, pauses and consent as of now, for the gate (kept current by KV watches). */
  switches?: SafetySwitches;
}

/** The audit kind of the gate's record of approved actions (src/safety/gate-review.ts, AUDIT_KIND.sent). */
export const APPROVED_AUDIT_KIND = 'sent';

/**
 * The gate's record of this event's approved actions, to travel on the actions themselves: an approved
 * action on ACTIONS is its own audit record (kept as long as AUDIT), so the separate AUDIT publish is saved.
 */
function approvalRecord(
  effects: readonly Effect[],
): { effect: Effect; common: Record<string, unknown>; actions: unknown[] } | undefined {
  let found: Extract<Effect, { type: 'audit' }> | undefined;
  let actions = 0;
  for (const e of effects) {
    if (e.type === 'audit' && e.kind === APPROVED_AUDIT_KIND) found = e;
    else if (e.type === 'action') actions++;
  }
  if (!found || actions === 0) return undefined;
  const { actions: listed, ...common } = found.record as { actions?: unknown[] };
  const list = Array.isArray(listed) && listed.length === actions ? listed : [];
  return { effect: found, common, actions: list };
}

export const conversationActor: ActorKind<ConversationState, ConversationContext> = {
  name: 'conversation',
  initial: initialConversationState,
  transition(state, event, ctx) {
    const next: ConversationState = {
      ...state,
      events: state.events + 1,
      counts: { ...state.counts, [event.type]: (state.counts[event.type] ?? 0) + 1 },
      last: { id: event.id, type: event.type, occurredAt: event.occurredAt, seq: ctx.seq },
      digest: nextDigest(state.digest, event.id),
    };
    const evaluation: Evaluation = ctx.rules.evaluate
      ? ctx.rules.evaluate(event, next, ctx)
      : { state: next, proposals: ctx.rules.decide(event, next), effects: [] };
    const reviewed = ctx.gate.review({
      event,
      state: evaluation.state,
      proposals: evaluation.proposals,
      now: ctx.now,
      rulesVersion: ctx.rules.version,
      seq: ctx.seq,
      switches: ctx.switches,
      enrichment: ctx.enrichment,
    });
    let approved = 0;
    let lastDue = 0;
    const report = ctx.rules.consumes ? ctx.rules.consumes(ACTION_SENT) : true;
    const approval = approvalRecord(reviewed.effects);
    const effects: Effect[] = [];
    for (const e of reviewed.effects) {
      if (e.type === 'action') {
        const own = approval?.actions[approved];
        approved++;
        lastDue = Math.max(lastDue, ctx.now + (e.delayMs ?? 0));
        if (!report && !approval) effects.push(e);
        else
          effects.push({
            ...e,
            ...(report ? { reportSent: true } : {}),
            ...(approval ? { approval: own ? { ...approval.common, action: own } : approval.common } : {}),
          });
      } else if (e !== approval?.effect) effects.push(e);
    }
    for (const e of evaluation.effects) effects.push(e);
    const decided: ConversationState = { ...reviewed.state, actions: state.actions + approved };
    // Outbound counters move when actions are approved, not when their `action.sent` comes back: that
    // outcome is reported only if something consumes it. A failed send (`action.failed`, always reported)
    // takes its count back (src/rules/profile.ts).
    if (approved > 0) {
      decided.profile = {
        ...decided.profile,
        messagesOut: (decided.profile?.messagesOut ?? 0) + approved,
        lastOutboundAt: new Date(lastDue).toISOString(),
      };
    }
    return { state: decided, effects };
  },
};
