/**
 * Opt-out: STOP and its variants (the CTIA keywords as a whole message, and explicit requests within one).
 * At or above the confidence threshold the fan is put on do-not-disturb at once; below it (an ambiguous
 * "please stop") the conversation is escalated for a human to decide.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

/** Whole-message keywords: the message is nothing but one of these. */
export const OPT_OUT_KEYWORDS = [
  'stop',
  'stop all',
  'stopall',
  'stop please',
  'please stop',
  'unsubscribe',
  'cancel',
  'end',
  'quit',
  'opt out',
  'optout',
  'revoke',
  'remove me',
] as const;

export const OPT_OUT_LEXICON: readonly LexiconEntry[] = [
  ...OPT_OUT_KEYWORDS.map((pattern) => ({ pattern, confidence: 1, whole: true, detail: 'keyword' })),
  ...[
    'stop messaging me',
    'stop texting me',
    'stop sending me',
    'stop contacting me',
    'stop emailing me',
    'stop dming me',
    'unsubscribe me',
    'please unsubscribe',
    'remove me from',
    'take me off',
    "don't message me",
    'dont message me',
    'do not message me',
    "don't contact me",
    'dont contact me',
    'do not contact me',
    "don't text me",
    'do not text me',
    'no more messages',
    'opt me out',
    'i want to opt out',
  ].map((pattern) => ({ pattern, confidence: 0.9, detail: 'request' })),
  { pattern: 'unsubscribe', confidence: 0.75, detail: 'request' },
  ...['leave me alone', 'stop it'].map((pattern) => ({
    pattern,
    confidence: 0.55,
    detail: 'ambiguous',
  })),
];

export function optOutClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier('opt-out-lexicon', 'opt-out', OPT_OUT_LEXICON, options);
}
