/**
 * Escalation hold: while a conversation is escalated every action is held (released through all guards again
 * on `resume`); once an operator closed it every action is blocked. A human reply (rule `operator`) is the
 * resolution itself and passes.
 */

import type { SafetyState } from '../contracts/conversation/safety-state.js';
import type { ActionEffect } from '../contracts/effects.js';
import { allow, type GuardVerdict } from './verdict.js';

export const OPERATOR_RULE = 'operator';
const GUARD = 'escalation';

export function escalationGuard(action: ActionEffect, safety: SafetyState): GuardVerdict {
  if (action.rule === OPERATOR_RULE) return allow(GUARD);
  if (safety.closed) {
    return {
      type: 'guard',
      guard: GUARD,
      verdict: 'block',
      reason: 'automation-closed',
      detail: { escalationId: safety.closed.escalationId },
    };
  }
  if (safety.escalation) {
    return {
      type: 'guard',
      guard: GUARD,
      verdict: 'hold',
      reason: 'escalated',
      detail: { escalationId: safety.escalation.id },
    };
  }
  return allow(GUARD);
}
