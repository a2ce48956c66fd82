/**
 * Revenue objection: refund requests, chargebacks, price complaints, cancellations. Low risk but not for
 * blind automation: escalated, unless the tenant configures a bridge message for it.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

const entries = (detail: string, confidence: number, patterns: string[]): LexiconEntry[] =>
  patterns.map((pattern) => ({ pattern, confidence, detail }));

export const REVENUE_OBJECTION_LEXICON: readonly LexiconEntry[] = [
  ...entries('chargeback', 0.95, [
    'chargeback*',
    'charge back',
    'dispute the charge',
    'dispute this charge',
    'dispute it with my bank',
    'call my bank',
    'report you to my bank',
  ]),
  ...entries('refund', 0.9, ['refund*', 'money back', 'give me my money', 'want my money', 'reimburse*']),
  ...entries('cancel', 0.85, [
    'cancel my subscription',
    'cancel my membership',
    'cancel the subscription',
    'cancel subscription',
    'how do i cancel',
    'cancelling my subscription',
    'canceling my subscription',
  ]),
  ...entries('price', 0.8, [
    'too expensive',
    'overpriced',
    'too much money',
    'not worth the money',
    'not worth the price',
    'rip off',
    'ripoff',
    'way too pricey',
  ]),
  ...entries('price', 0.55, ['scam', 'cheaper', 'not worth it', 'expensive']),
];

export function revenueObjectionClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier(
    'revenue-objection-lexicon',
    'revenue-objection',
    REVENUE_OBJECTION_LEXICON,
    options,
  );
}
