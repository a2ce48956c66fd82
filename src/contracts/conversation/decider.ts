/**
 * What the conversation actor asks of the rules engine (src/rules implements it): the decision interface
 * between the actor kind and the rules, kept here so neither depends on the other.
 */
import type { ActionEffect, Effect } from '../effects.js';
import type { EventEnvelope } from '../envelope.js';
import type { ConversationState } from './state.js';

/** Decides the actions an event triggers (implemented by the rules engine). */
export interface Decider {
  readonly version: string;
  decide(event: EventEnvelope, state: ConversationState): ActionEffect[];
  /**
   * The full evaluation, when the decider has one: besides proposed actions, the state it updates (profile,
   * journeys, timers) and effects that are not actions (detector signals, journey audit, wake-ups).
   */
  evaluate?(event: EventEnvelope, state: ConversationState, ctx: EvaluationContext): Evaluation;
  /**
   * Whether anything in the decider reacts to events of `type`. Without it every approved action asks for
   * its `action.sent` outcome event (the conservative default).
   */
  consumes?(type: string): boolean;
}

export interface EvaluationContext {
  seq: number;
  now: number;
}

export interface Evaluation {
  state: ConversationState;
  /** Actions to propose, in decision order; they pass through the safety gate. */
  proposals: ActionEffect[];
  /** Effects that bypass the gate: emit (detector signals), audit (journey path), wake (timers). */
  effects: Effect[];
}
