/**
 * The conversation actor kind: for each event, update the conversation's counters and order digest, and
 * ask the rule set which actions to take. Pure: the rule set and the time come in through the context.
 */
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import type { ActionEffect } from '../effects.js';
import type { ActorKind, TransitionContext } from '../kind.js';
import type { SafetyGate } from './gate.js';
import { type ConversationState, initialConversationState, nextDigest } from './state.js';

/** Decides the actions an event triggers (implemented by the rules engine). */
export interface Decider {
  readonly version: string;
  decide(event: EventEnvelope, state: ConversationState): ActionEffect[];
}

export interface ConversationContext extends TransitionContext {
  rules: Decider;
  /** Every proposed action passes through it; default passThroughGate. */
  gate: SafetyGate;
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
    const proposals = ctx.rules.decide(event, next);
    const reviewed = ctx.gate.review({
      event,
      state: next,
      proposals,
      now: ctx.now,
      rulesVersion: ctx.rules.version,
    });
    const sent = reviewed.effects.filter((e) => e.type === 'action').length;
    return { state: { ...reviewed.state, actions: state.actions + sent }, effects: reviewed.effects };
  },
};
