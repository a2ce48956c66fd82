/**
 * Quiet hours in the fan's IANA time zone (profile, then event attributes, then the tenant's): an action whose
 * send time falls inside them is deferred to the end of the window (`delayMs`) or dropped, per rule. Applies
 * only where configured (tenant default or rule override).
 */

import type { QuietHours } from '../config/safety-schema.js';
import type { ActionEffect } from '../contracts/effects.js';
import { type LocalTime, parseHhMm } from './local-time.js';
import { allow, type GuardVerdict } from './verdict.js';

const GUARD = 'quiet-hours';

export interface QuietHoursInput {
  action: ActionEffect;
  now: number;
  quietHours: QuietHours | undefined;
  /** The fan's zone (already validated) and where it came from. */
  zone: string;
  zoneSource: string;
}

export function quietHoursGuard(input: QuietHoursInput, clock: LocalTime): GuardVerdict {
  const { quietHours: qh, action, now, zone } = input;
  if (!qh) return allow(GUARD);
  const sendAt = now + (action.delayMs ?? 0);
  const next = clock.nextOutside(sendAt, zone, parseHhMm(qh.start), parseHhMm(qh.end));
  if (next === sendAt) return allow(GUARD, { zone });
  const detail = {
    zone,
    zoneSource: input.zoneSource,
    window: `${qh.start}-${qh.end}`,
    until: new Date(next).toISOString(),
  };
  if (qh.mode === 'drop')
    return { type: 'guard', guard: GUARD, verdict: 'block', reason: 'quiet-hours', detail };
  return {
    type: 'guard',
    guard: GUARD,
    verdict: 'defer',
    reason: 'quiet-hours',
    delayMs: next - now,
    detail,
  };
}
