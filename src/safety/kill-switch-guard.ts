/**
 * Kill switches and pauses at global, tenant, rule, channel and conversation scope (parley-control, through
 * a watched snapshot). `kill` blocks; `pause` defers: the action goes to ACTIONS and the pre-send gate holds
 * it until resume. Used by the gate and again by the pre-send gate.
 */
import type { SnapshotView } from '../contracts/conversation/gate.js';
import { switchKeys } from './control.js';
import { allow, type GuardVerdict } from './verdict.js';

const GUARD = 'kill-switch';

export interface SwitchTarget {
  tenant: string;
  conversation: string;
  rule: string;
  channel: string;
}

export function killSwitchGuard(target: SwitchTarget, control: SnapshotView | undefined): GuardVerdict {
  if (!control) return allow(GUARD);
  let paused: string | undefined;
  for (const key of switchKeys(target)) {
    const rec = control.get(key);
    if (!rec) continue;
    if (rec.mode === 'kill') {
      return { type: 'guard', guard: GUARD, verdict: 'block', reason: 'killed', detail: { key } };
    }
    paused ??= key;
  }
  if (paused)
    return { type: 'guard', guard: GUARD, verdict: 'defer', reason: 'paused', detail: { key: paused } };
  return allow(GUARD);
}
