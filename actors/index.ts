/** The explicit list of actor kinds. */

export type { ConversationContext, Decider } from './conversation/conversation-actor.js';
export { conversationActor } from './conversation/conversation-actor.js';
export type { GateInput, GateResult, SafetyGate } from './conversation/gate.js';
export { passThroughGate } from './conversation/gate.js';
export type { ConversationState } from './conversation/state.js';
export type { Effect } from './effects.js';
export type { ActorKind, TransitionContext } from './kind.js';
