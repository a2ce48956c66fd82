/**
 * What classifiers and guards return: plain values, discriminated on `type`, recorded verbatim in the
 * decision path on AUDIT. A classifier labels a message or a conversation; a guard rules on one action.
 */

/** Labels the built-in classifiers use; a model classifier maps its own vocabulary onto them. */
export type RiskLabel = 'crisis' | 'abuse' | 'revenue-objection' | 'opt-out';

export interface ClassifierVerdict {
  type: 'classification';
  classifier: string;
  /** `none` when nothing was found. */
  label: string;
  /** 0..1. */
  confidence: number;
  /** Finer grain (e.g. refund, chargeback, price for a revenue objection). */
  detail?: string;
  /** The few words that matched, for a reviewer (never logged, only put on an escalation). */
  snippet?: string;
  /**
   * A second opinion (the offline statistical classifier): it may open an escalation, never enrolls DND,
   * never answers with a bridge, and its `none` lowers nothing.
   */
  advisory?: boolean;
}

export type GuardOutcome = 'allow' | 'block' | 'defer' | 'hold';

export interface GuardVerdict {
  type: 'guard';
  guard: string;
  verdict: GuardOutcome;
  /** Why, as a stable token (dnd, frequency-cap, quiet-hours, killed, paused, escalated, closed, ...). */
  reason?: string;
  /** defer: send this long after the decision instead (ms). */
  delayMs?: number;
  /** Low-cardinality facts for the audit trail (scope, window, count, time zone...). */
  detail?: Record<string, unknown>;
}

export const allow = (guard: string, detail?: Record<string, unknown>): GuardVerdict =>
  detail ? { type: 'guard', guard, verdict: 'allow', detail } : { type: 'guard', guard, verdict: 'allow' };

export const NONE = 'none';

/** Most restrictive first: one block blocks, else one hold holds, else a defer defers. */
const RANK: Record<GuardOutcome, number> = { block: 3, hold: 2, defer: 1, allow: 0 };

export function combine(verdicts: readonly GuardVerdict[]): GuardVerdict | undefined {
  let worst: GuardVerdict | undefined;
  for (const v of verdicts) {
    if (v.verdict === 'allow') continue;
    if (!worst || RANK[v.verdict] > RANK[worst.verdict]) worst = v;
    else if (v.verdict === 'defer' && worst.verdict === 'defer' && (v.delayMs ?? 0) > (worst.delayMs ?? 0))
      worst = v;
  }
  return worst;
}
