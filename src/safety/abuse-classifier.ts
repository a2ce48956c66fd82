/**
 * Abuse / harassment: threats and insults aimed at the creator or staff. Escalated (high priority); automation
 * must not keep cheerfully messaging someone who is threatening.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

export const ABUSE_LEXICON: readonly LexiconEntry[] = [
  ...[
    'kill you',
    'i know where you live',
    'you deserve to die',
    'hope you die',
    'go die',
    'kill yourself',
    'kys',
    'rape*',
    'i will find you',
    "i'll find you",
    'watch your back',
    'you will regret',
  ].map((pattern) => ({ pattern, confidence: 0.95, detail: 'threat' })),
  ...[
    'fuck you',
    'fuck off',
    'bitch',
    'whore',
    'slut',
    'cunt',
    'piece of shit',
    'worthless',
    'retard*',
    'stupid cow',
    'ugly pig',
  ].map((pattern) => ({ pattern, confidence: 0.85, detail: 'insult' })),
  ...['hate you', 'idiot', 'shut up', 'loser'].map((pattern) => ({
    pattern,
    confidence: 0.55,
    detail: 'hostile',
  })),
];

export function abuseClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier('abuse-lexicon', 'abuse', ABUSE_LEXICON, options);
}
