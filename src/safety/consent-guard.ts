/**
 * Consent / do-not-disturb per fan and channel: blocked when the conversation's own state (an opt-out it saw,
 * in order) or the parley-consent record (snapshot) says DND for the action's channel. Either suffices: a
 * record set out of band is honoured, and the actor's own knowledge needs no round trip through KV.
 *
 * One exception: the confirmation of an opt-out (an action the gate marks `optOutConfirmation`, see
 * opt-out-confirmation.ts) passes the DND that very opt-out set, and no other: not an operator's DND, not a
 * later opt-out's, not a record written by another event.
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
  /** Set on an opt-out confirmation: the opt-out event it confirms. */
  confirms?: { eventId: string };
}

/** Whether a DND (own state or record) is the one the confirmation's opt-out set. */
const setBy = (dnd: { source?: unknown; eventId?: unknown }, target: ConsentTarget) =>
  target.confirms !== undefined && dnd.source === 'opt-out' && dnd.eventId === target.confirms.eventId;

export function consentGuard(
  target: ConsentTarget,
  own: ConsentState | undefined,
  consent: SnapshotView | undefined,
): GuardVerdict {
  let exempt = false;
  if (isDnd(own, target.channel)) {
    if (!setBy(own!, target))
      return {
        type: 'guard',
        guard: GUARD,
        verdict: 'block',
        reason: 'dnd',
        detail: { source: own!.source },
      };
    exempt = true;
  }
  const record = consent?.get(consentKey(target.tenant, target.conversation)) as
    | { dnd?: unknown; channels?: unknown; source?: unknown; eventId?: unknown }
    | undefined;
  if (isDnd(record, target.channel)) {
    if (!setBy(record!, target))
      return {
        type: 'guard',
        guard: GUARD,
        verdict: 'block',
        reason: 'dnd',
        detail: { source: 'consent-record' },
      };
    exempt = true;
  }
  return exempt ? allow(GUARD, { exempt: 'opt-out-confirmation' }) : allow(GUARD);
}
