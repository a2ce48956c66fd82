/**
 * Bounded waiting for the fault harness: every wait has a deadline and polls a condition (KV, the receiver,
 * a port), never a fixed sleep standing in for an event.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `fn` every `everyMs` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await sleep(everyMs);
  }
}

/** Rejects after `ms` (for Promise.race against an event). */
export function deadline(ms: number, what: string): Promise<never> {
  return sleep(ms).then(() => {
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  });
}
