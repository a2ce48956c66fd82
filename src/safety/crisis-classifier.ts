/**
 * Crisis / self-harm: a message suggesting the fan may hurt themselves. Always escalated (urgent), never
 * answered by automation. The defaults are deliberately broad: a false positive costs a human a look, a false
 * negative can cost a life.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

export const CRISIS_LEXICON: readonly LexiconEntry[] = [
  ...[
    'kill myself',
    'killing myself',
    'end my life',
    'ending my life',
    'take my own life',
    'taking my own life',
    'want to die',
    'wanna die',
    'going to die tonight',
    'suicid*',
    'hurt myself',
    'hurting myself',
    'harm myself',
    'self harm*',
    'cut myself',
    'cutting myself',
    'better off dead',
    'no reason to live',
    "don't want to live",
    'dont want to live',
    "don't want to be alive",
    'dont want to be alive',
    'not worth living',
    'end it all',
    'overdos*',
  ].map((pattern) => ({ pattern, confidence: 0.95, detail: 'self-harm' })),
  ...["can't go on", 'cant go on', 'want to disappear', 'nothing to live for', 'kms', 'hopeless'].map(
    (pattern) => ({ pattern, confidence: 0.55, detail: 'distress' }),
  ),
];

export function crisisClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier('crisis-lexicon', 'crisis', CRISIS_LEXICON, options);
}
