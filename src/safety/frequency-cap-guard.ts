/**
 * Frequency caps per fan and channel over sliding windows (e.g. 3 per day), counted from the approved send
 * times the conversation's state keeps (`safety.sends`). Applies only where configured. The tenant-wide
 * daily cap needs a count shared by every process and is enforced at send time (tenant-daily-cap.ts).
 */
import type { ActionEffect } from '../contracts/effects.js';
import { allow, type GuardVerdict } from './verdict.js';

const GUARD = 'frequency-cap';

export interface CompiledFanCap {
  channel: string;
  max: number;
  windowMs: number;
  window: string;
}

export function frequencyCapGuard(
  action: ActionEffect,
  now: number,
  caps: readonly CompiledFanCap[],
  sends: Readonly<Record<string, readonly number[]>> | undefined,
): GuardVerdict {
  for (const cap of caps) {
    if (cap.channel !== '*' && cap.channel !== action.channel) continue;
    const since = now - cap.windowMs;
    let count = 0;
    const channels = cap.channel === '*' ? Object.keys(sends ?? {}) : [cap.channel];
    for (const ch of channels) for (const t of sends?.[ch] ?? []) if (t > since) count++;
    if (count >= cap.max) {
      return {
        type: 'guard',
        guard: GUARD,
        verdict: 'block',
        reason: 'frequency-cap',
        detail: { channel: cap.channel, max: cap.max, window: cap.window, count },
      };
    }
  }
  return allow(GUARD);
}

/** `sends` with `now` recorded for `channel`, pruned to the longest window and the largest max. */
export function recordSend(
  sends: Readonly<Record<string, readonly number[]>> | undefined,
  channel: string,
  now: number,
  caps: readonly CompiledFanCap[],
): Record<string, number[]> | undefined {
  if (caps.length === 0) return sends as Record<string, number[]> | undefined;
  const longest = Math.max(...caps.map((c) => c.windowMs));
  const keep = Math.max(...caps.map((c) => c.max)) + 1;
  const list = [...(sends?.[channel] ?? []), now].filter((t) => t > now - longest).slice(-keep);
  return { ...(sends as Record<string, number[]> | undefined), [channel]: list };
}
