/**
 * The mechanics every deterministic classifier shares: a lexicon of phrases (or regular expressions) with a
 * confidence each, matched against normalized message text; the strongest match wins. Phrases match whole
 * words (`*` stands for the rest of a word); `whole: true` entries must be the entire message (STOP).
 * Compiled once per policy; matching is a handful of regex tests per message.
 */
import { z } from 'zod';
import { type ClassifierVerdict, NONE } from './verdict.js';

export const LexiconEntrySchema = z
  .object({
    pattern: z
      .string()
      .min(1)
      .describe('A phrase (whole words, `*` = rest of a word) or a regex with regex: true'),
    confidence: z.number().min(0).max(1).default(0.9).describe('Confidence of the label when this matches'),
    detail: z
      .string()
      .optional()
      .describe('Finer label recorded with the match (refund, price, threat, ...)'),
    regex: z
      .boolean()
      .default(false)
      .describe('Treat `pattern` as a regular expression over normalized text'),
    whole: z.boolean().default(false).describe('Match only when the entire message is this phrase'),
  })
  .strict();

export type LexiconEntry = z.input<typeof LexiconEntrySchema>;

export const LexiconOptionsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Run this classifier'),
    patterns: z
      .array(LexiconEntrySchema)
      .default([])
      .describe('Entries added to (or replacing) the defaults'),
    replaceDefaults: z
      .boolean()
      .default(false)
      .describe('Use only `patterns`, dropping the built-in English lexicon'),
  })
  .strict();

export type LexiconOptions = z.input<typeof LexiconOptionsSchema>;

/** Lower case, NFKC, straight apostrophes, punctuation to spaces, single spaces. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

interface Compiled {
  re: RegExp;
  confidence: number;
  detail?: string;
  whole: boolean;
  phrase?: string;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileEntry(raw: LexiconEntry): Compiled {
  const e = LexiconEntrySchema.parse(raw);
  if (e.regex)
    return { re: new RegExp(e.pattern, 'u'), confidence: e.confidence, detail: e.detail, whole: false };
  const phrase = e.pattern
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => normalizeText(w.replace(/\*+$/, '')) + (w.endsWith('*') ? '*' : ''))
    .join(' ');
  if (e.whole) return { re: /$^/, confidence: e.confidence, detail: e.detail, whole: true, phrase };
  const body = phrase
    .split(' ')
    .map((w) => escapeRegex(w.replace(/\*/g, '')) + (w.endsWith('*') ? "[\\p{L}\\p{N}']*" : ''))
    .join(' ');
  return {
    re: new RegExp(`(?:^| )${body}(?= |$)`, 'u'),
    confidence: e.confidence,
    detail: e.detail,
    whole: false,
  };
}

export interface TextClassifier {
  readonly name: string;
  readonly label: string;
  /** `normalized` is normalizeText(message). */
  classify(normalized: string): ClassifierVerdict;
}

const SNIPPET_CONTEXT = 24;

function snippet(text: string, index: number, length: number): string {
  const from = Math.max(0, index - SNIPPET_CONTEXT);
  const to = Math.min(text.length, index + length + SNIPPET_CONTEXT);
  return `${from > 0 ? '…' : ''}${text.slice(from, to).trim()}${to < text.length ? '…' : ''}`;
}

/** A classifier over `defaults` adjusted by `options` (extra entries, or a replacement lexicon). */
export function lexiconClassifier(
  name: string,
  label: string,
  defaults: readonly LexiconEntry[],
  options: LexiconOptions = {},
): TextClassifier {
  const o = LexiconOptionsSchema.parse(options);
  const entries = (o.replaceDefaults ? o.patterns : [...defaults, ...o.patterns]).map(compileEntry);
  const wholes = new Map<string, Compiled>();
  for (const e of entries) if (e.whole && e.phrase) wholes.set(e.phrase, e);
  const partial = entries.filter((e) => !e.whole);
  const none: ClassifierVerdict = { type: 'classification', classifier: name, label: NONE, confidence: 1 };
  return {
    name,
    label,
    classify(text) {
      if (!o.enabled || text.length === 0) return none;
      const w = wholes.get(text);
      if (w) {
        return {
          type: 'classification',
          classifier: name,
          label,
          confidence: w.confidence,
          ...(w.detail ? { detail: w.detail } : {}),
          snippet: text,
        };
      }
      let best: { e: Compiled; m: RegExpExecArray } | undefined;
      for (const e of partial) {
        if (best && e.confidence <= best.e.confidence) continue;
        const m = e.re.exec(text);
        if (m) best = { e, m };
      }
      if (!best) return none;
      return {
        type: 'classification',
        classifier: name,
        label,
        confidence: best.e.confidence,
        ...(best.e.detail ? { detail: best.e.detail } : {}),
        snippet: snippet(text, best.m.index, best.m[0].length),
      };
    },
  };
}
