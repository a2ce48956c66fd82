/**
 * What an actor kind is: a pure transition from (state, event, context) to (state, effects). No I/O, no
 * clock, no randomness: everything time-dependent comes in through the context, so replaying the same
 * events over the same rules gives the same states and effects.
 */

import type { Effect } from './effects.js';
import type { EventEnvelope } from './envelope.js';

export interface TransitionContext {
  /** Stream sequence of the event being applied (deterministic across redeliveries and replays). */
  seq: number;
  /** The event's stream time in ms: the only "now" a transition may use. */
  now: number;
  /** The result of the runtime's async enrichment of the event (e.g. a model classifier), when configured. */
  enrichment?: Readonly<Record<string, unknown>>;
}

export interface Transition<S> {
  state: S;
  effects: Effect[];
}

export interface ActorKind<S, C extends TransitionContext = TransitionContext> {
  readonly name: string;
  initial(tenant: string, conversation: string): S;
  transition(state: S, event: EventEnvelope, ctx: C): Transition<S>;
}
