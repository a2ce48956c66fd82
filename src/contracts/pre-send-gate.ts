/**
 * The pre-send gate: asked once per action right before a send (consent, DND and kill switches can change
 * after the decision was made); implemented by src/safety/pre-send-gate.ts, called by the connectors. An
 * expected outcome, never a throw:
 * - allow: go on;
 * - blocked: never sent; the connector acks it and records it (AUDIT `audit.blocked.<tenant>.<conversation>`,
 *   outcome event `action.failed` with outcome "blocked");
 * - deferred: try again later (after `retryAfterMs`); it holds later actions of its conversation.
 * A throw is an infrastructure failure: the action is retried like any unknown error.
 */
import type { ActionMessage } from './action.js';

export type GateVerdict =
  | { allow: true }
  | { allow: false; reason: string; outcome: 'blocked' | 'deferred'; retryAfterMs?: number };

export interface PreSendGate {
  check(action: ActionMessage): Promise<GateVerdict>;
}
