/**
 * The one retry policy of the connectors, pure: what a failed send means for the action.
 * - RetryableError: retry after its Retry-After if it has one, else exponential backoff with jitter;
 *   rate limiting (429) does not use up an attempt.
 * - TerminalError (permanent 4xx, invalid address, bad configuration): dead-letter now.
 * - anything else: retry like a retryable error until the attempts run out.
 * Attempts exhausted -> dead-letter with the last error.
 */
import { AppError, RetryableError, TerminalError } from '../errors/app-error.js';
import { backoffDelay } from '../util/backoff.js';

export interface RetrySettings {
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export type RetryDecision =
  | { type: 'retry'; delayMs: number; counted: boolean; code: string; error: string }
  | { type: 'dead-letter'; reason: string; code: string; error: string };

export function errorCode(err: unknown): string {
  return err instanceof AppError ? err.code : 'UNKNOWN';
}

export function decideRetry(
  err: unknown,
  attempt: number,
  settings: RetrySettings,
  random: () => number = Math.random,
): RetryDecision {
  const code = errorCode(err);
  const error = err instanceof Error ? err.message : String(err);
  if (err instanceof TerminalError) return { type: 'dead-letter', reason: 'rejected', code, error };
  const rateLimited = err instanceof RetryableError && code === 'RATE_LIMITED';
  if (!rateLimited && attempt >= settings.maxAttempts) {
    return { type: 'dead-letter', reason: 'max_attempts', code, error };
  }
  const hinted = err instanceof RetryableError ? err.retryAfterMs : undefined;
  const backoff = backoffDelay(attempt, settings.retryInitialMs, settings.retryMaxMs, random);
  // Honour Retry-After exactly (plus a little jitter so a herd does not return at once), capped at the max.
  const delayMs =
    hinted !== undefined ? Math.min(settings.retryMaxMs, hinted + Math.round(random() * 50)) : backoff;
  return { type: 'retry', delayMs, counted: !rateLimited, code, error };
}
