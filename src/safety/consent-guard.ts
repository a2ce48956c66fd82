/**
 * Consent / do-not-disturb per fan and channel: blocked when the conversation's own state (an opt-out it saw,
 * in order) or the parley-consent record (snapshot) says DND for the action's channel. Either suffices: a
 * record set out of band is honoured, and the actor's own knowledge needs no round trip through KV.
 */
import type { SnapshotView } from '../contracts/conversation/gate.js';
import type { ConsentState } from '../contracts/conversation/safety-state.js';
import { consentKey, isDnd } from './consent.js';
import { allow, type GuardVerdict } from './verdict.js';

const GUARD = 'consent';

export interface ConsentTarget {
  tenant: string;
  conversation: string;
  channel: string;
}

export function consentGuard(
  target: ConsentTarget,
  own: ConsentState | undefined,
  consent: SnapshotView | undefined,
): GuardVerdict {
  if (isDnd(own, target.channel)) {
    return { type: 'guard', guard: GUARD, verdict: 'block', reason: 'dnd', detail: { source: own!.source } };
  }
  const record = consent?.get(consentKey(target.tenant, target.conversation));
  if (isDnd(record, target.channel)) {
    return {
      type: 'guard',
      guard: GUARD,
      verdict: 'block',
      reason: 'dnd',
      detail: { source: 'consent-record' },
    };
  }
  return allow(GUARD);
}
