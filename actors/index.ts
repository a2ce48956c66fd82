/** The explicit list of actor kinds. */

export type { ActorKind, TransitionContext } from '../src/contracts/actor-kind.js';
export type { GateInput, GateResult, SafetyGate } from '../src/contracts/conversation/gate.js';
export { passThroughGate } from '../src/contracts/conversation/gate.js';
export type { ConversationState } from '../src/contracts/conversation/state.js';
export type { Effect } from '../src/contracts/effects.js';
export type { ConversationContext, Decider } from '../src/rules/conversation-actor.js';
export { conversationActor } from '../src/rules/conversation-actor.js';
