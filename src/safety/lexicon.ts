/**
 * The mechanics every deterministic classifier shares: a lexicon of phrases (or regular expressions) with a
 * confidence each, matched against normalized message text (normalize.ts); the strongest match that is not
 * negated or reported wins. Compiled once per policy; one combined test rejects most messages at once.
 *
 * Phrase syntax, over normalized words: `*` ends a word with anything (refund* = refunds, refunded);
 * `[a|b c|]` is one of the alternatives (an empty one makes the group optional); `~` skips up to three
 * words. Every letter of a phrase may repeat in the message (stop = stoooop). `whole: true` entries must be
 * the entire message (STOP), looked up with repeats and repeated words squeezed out.
 *
 * Negation and reported speech: a phrase preceded (within two words, not counting intent words such as
 * "going to", "ever", "really") by a negator of the classifier (not, never, ...) does not count ("please do
 * not stop sending me pics"); nor, for classifiers that name them, one preceded by a reporting word ("my
 * friend said ..."). `unless` drops an entry whenever its regex matches anywhere in the message (a refund
 * question asked before buying).
 */
import { z } from 'zod';
import { normalizeText, squeeze } from './normalize.js';
import { type ClassifierVerdict, NONE } from './verdict.js';

export { normalizeText } from './normalize.js';

export const LexiconEntrySchema = z
  .object({
    pattern: z
      .string()
      .min(1)
      .describe(
        'A phrase (whole words; `*` = rest of a word, `[a|b]` = alternatives, `~` = up to three words) or a regex with regex: true',
      ),
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
    negatable: z
      .boolean()
      .optional()
      .describe('A negation just before the match cancels it; default true for phrases, false for regexes'),
    unless: z
      .string()
      .optional()
      .describe('Regular expression over the normalized message: when it matches, this entry does not'),
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
      .describe('Use only `patterns`, dropping the built-in lexicon'),
  })
  .strict();

export type LexiconOptions = z.input<typeof LexiconOptionsSchema>;

/** How a classifier reads the words before a match. */
export interface LexiconCues {
  /** Words that cancel a phrase right after them (not, never, ...). */
  negators?: readonly string[];
  /** Words that make a phrase someone else's words (said, lyrics, ...): the match is `reported`. */
  reported?: readonly string[];
  /** Words looked through when reading back (going, to, ever, really, ...). */
  skip?: readonly string[];
  /** How many words back to read (default 2). */
  window?: number;
  /** Words that may surround a whole-message keyword ("stop please", "stop. seriously."). */
  fillers?: readonly string[];
}

export const DEFAULT_NEGATORS = ['not', 'never', 'nor', 'neither'] as const;
const DEFAULT_SKIP = [
  'going',
  'to',
  'ever',
  'even',
  'really',
  'just',
  'want',
  'wanting',
  'trying',
  'try',
  'planning',
  'plan',
  'gonna',
  'would',
  'will',
  'be',
  'do',
  'does',
  'did',
  'please',
  'again',
] as const;

interface Compiled {
  re: RegExp;
  /** Squeezed words one of which the message must contain for this entry to match (`x*` = a prefix). */
  anchors?: readonly string[];
  confidence: number;
  detail?: string;
  negatable: boolean;
  unless?: RegExp;
  /** Matched against ` text ` (padded) when true; against the plain normalized text otherwise. */
  padded: boolean;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const WILD = 'zxwildxz';

/** Normalized words of a phrase fragment, `*` kept at the end of a word. */
function phraseWords(fragment: string): string[] {
  const marked = fragment.replace(/\*+/g, WILD);
  return normalizeText(marked)
    .split(' ')
    .filter(Boolean)
    .map((w) => (w.endsWith(WILD) ? `${w.slice(0, -WILD.length)}*` : w.replace(WILD, '')));
}

/** One word as a regex followed by a space: each letter may repeat, `*` takes the rest of the word. */
function wordRegex(w: string): string {
  const wild = w.endsWith('*');
  const base = wild ? w.slice(0, -1) : w;
  let out = '';
  for (let i = 0; i < base.length; i++) {
    const c = base[i]!;
    if (base[i - 1] === c) continue;
    out += /\p{L}/u.test(c) ? `${escapeRegex(c)}+` : escapeRegex(c);
  }
  // Normalized words are letters and digits: anything up to the next space is the rest of the word.
  return `${out}${wild ? '[^ ]*' : ''} `;
}

/**
 * Phrase syntax (see the module header) to a regex over ` text ` (padded with spaces), and the anchors: the
 * words of its longest plain word or of a required group, one of which any match contains.
 */
export function compilePhrase(pattern: string): { re: RegExp; anchors?: string[] } {
  let body = ' ';
  let anchors: string[] | undefined;
  // The best anchors are rare words: long ones, few of them, no everyday word among them.
  const score = (xs: string[]) =>
    (xs.some((x) => COMMON.has(x.replace(/\*$/, '')) || x.length < 3) ? -100 : 0) +
    Math.min(...xs.map((x) => x.length)) -
    xs.length / 2;
  const better = (cand: string[]) => {
    if (!anchors || score(cand) > score(anchors)) anchors = cand;
  };
  const re = /\[([^\]]*)\]|~|[^\s[~]+/g;
  for (const m of pattern.matchAll(re)) {
    if (m[1] !== undefined) {
      const words = m[1].split('|').map(phraseWords);
      const alts = words.map((ws) => ws.map(wordRegex).join(''));
      const optional = alts.some((a) => a === '');
      body += `(?:${alts.filter(Boolean).join('|')})${optional ? '?' : ''}`;
      if (!optional) better(words.map((ws) => anchorOf(ws[0]!)));
    } else if (m[0] === '~') body += '(?:[^ ]+ ){0,3}';
    else {
      const words = phraseWords(m[0]);
      body += words.map(wordRegex).join('');
      for (const w of words) better([anchorOf(w)]);
    }
  }
  return { re: new RegExp(body, NON_ASCII.test(body) ? 'gu' : 'g'), ...(anchors ? { anchors } : {}) };
}

const NON_ASCII = /[\u0080-\uffff]/;
const COMMON = new Set(
  (
    'i you your me my to the a an is am are was not do did does will be it its this that of for on in and so ' +
    'just going want would can have has what how get got if all no we us they them he she at by or with from ' +
    'now please more any again never'
  ).split(' '),
);

/** A phrase word as an anchor: squeezed; a wildcard word keeps its `*` (a prefix). */
function anchorOf(word: string): string {
  return word.endsWith('*') ? `${squeeze(word.slice(0, -1))}*` : squeeze(word);
}

/** The squeezed words of the last message classified: every classifier of a policy reads the same one. */
let lastView: { text: string; words: Set<string> } | undefined;
function wordView(text: string): Set<string> {
  if (lastView?.text !== text) lastView = { text, words: new Set(squeeze(text).split(' ')) };
  return lastView.words;
}

function compileEntry(raw: LexiconEntry): Compiled {
  const e = LexiconEntrySchema.parse(raw);
  const unless = e.unless ? new RegExp(e.unless, 'u') : undefined;
  const common = { confidence: e.confidence, detail: e.detail, ...(unless ? { unless } : {}) };
  if (e.regex)
    return { re: new RegExp(e.pattern, 'gu'), negatable: e.negatable ?? false, padded: false, ...common };
  return { ...compilePhrase(e.pattern), negatable: e.negatable ?? true, padded: true, ...common };
}

/** The key a whole-message keyword is looked up by: repeats squeezed, a repeated word once (stop stop). */
function wholeKey(normalized: string): string {
  return squeeze(normalized).replace(/\b(\S+)(?: \1\b)+/g, '$1');
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

/** Why a phrase that matched did not count: negated, someone else's words, or a context that rules it out. */
export type Reading = 'negated' | 'reported' | 'context' | undefined;
export const DISMISSED: ReadonlySet<string> = new Set(['negated', 'reported', 'context']);

/** What the words before `index` make of a match there. */
function readBack(text: string, index: number, cues: Required<LexiconCues>, skip: Set<string>): Reading {
  const before = text.slice(0, index).trim();
  if (!before) return undefined;
  const words = before.split(' ');
  let counted = 0;
  for (let i = words.length - 1; i >= 0 && counted < cues.window; i--) {
    const w = words[i]!;
    if (cues.negators.includes(w)) return 'negated';
    if (cues.reported.includes(w)) return 'reported';
    if (!skip.has(w)) counted++;
  }
  return undefined;
}

/** A classifier over `defaults` adjusted by `options` (extra entries, or a replacement lexicon). */
export function lexiconClassifier(
  name: string,
  label: string,
  defaults: readonly LexiconEntry[],
  options: LexiconOptions = {},
  cueOptions: LexiconCues = {},
): TextClassifier {
  const o = LexiconOptionsSchema.parse(options);
  const raw = o.replaceDefaults ? o.patterns : [...defaults, ...o.patterns];
  const cues: Required<LexiconCues> = {
    negators: cueOptions.negators ?? DEFAULT_NEGATORS,
    reported: cueOptions.reported ?? [],
    skip: cueOptions.skip ?? DEFAULT_SKIP,
    window: cueOptions.window ?? 2,
    fillers: cueOptions.fillers ?? [],
  };
  // Longest first, so "thank you" goes before "you" would.
  const fillers = [...new Set(cues.fillers.map((f) => wholeKey(normalizeText(f))))].sort(
    (a, b) => b.length - a.length,
  );
  const lookupWhole = (text: string) => {
    let key = wholeKey(text);
    for (;;) {
      const w = wholes.get(key);
      if (w || !fillers.length) return w;
      const f = fillers.find((x) => key.startsWith(`${x} `) || key.endsWith(` ${x}`));
      if (!f) return undefined;
      key = key.startsWith(`${f} `) ? key.slice(f.length + 1) : key.slice(0, -(f.length + 1));
    }
  };
  const skip = new Set(cues.skip);
  const wholes = new Map<string, { confidence: number; detail?: string }>();
  const partial: Compiled[] = [];
  for (const r of raw) {
    const e = LexiconEntrySchema.parse(r);
    if (e.whole) {
      const key = wholeKey(normalizeText(e.pattern));
      const prev = wholes.get(key);
      if (!prev || prev.confidence < e.confidence)
        wholes.set(key, { confidence: e.confidence, ...(e.detail ? { detail: e.detail } : {}) });
    } else partial.push(compileEntry(e));
  }
  // Strongest first: the first entry that matches for real is the verdict.
  partial.sort((a, b) => b.confidence - a.confidence);
  // Entries by anchor word (and by anchor prefix for wildcards): a message only tries the entries one of
  // whose anchors it contains, found by looking its words up, not by scanning every entry.
  const byWord = new Map<string, number[]>();
  const byPrefix = new Map<string, number[]>();
  const always: number[] = [];
  partial.forEach((e, i) => {
    if (!e.anchors) always.push(i);
    else
      for (const a of e.anchors) {
        const [map, key] = a.endsWith('*') ? [byPrefix, a.slice(0, -1)] : [byWord, a];
        const list = map.get(key) ?? [];
        if (!list.includes(i)) list.push(i);
        map.set(key, list);
      }
  });
  const prefixLengths = [...new Set([...byPrefix.keys()].map((k) => k.length))].sort((a, b) => a - b);
  const candidates = (words: ReadonlySet<string>): number[] => {
    const out = new Set<number>(always);
    for (const w of words) {
      const exact = byWord.get(w);
      if (exact) for (const i of exact) out.add(i);
      for (const n of prefixLengths) {
        if (n > w.length) break;
        const pre = byPrefix.get(w.slice(0, n));
        if (pre) for (const i of pre) out.add(i);
      }
    }
    return [...out].sort((a, b) => a - b);
  };
  // One alternation of every entry: most messages match nothing, and are done after one test.
  const none: ClassifierVerdict = { type: 'classification', classifier: name, label: NONE, confidence: 1 };
  const verdict = (confidence: number, detail: string | undefined, snip: string): ClassifierVerdict => ({
    type: 'classification',
    classifier: name,
    label,
    confidence,
    ...(detail ? { detail } : {}),
    snippet: snip,
  });
  return {
    name,
    label,
    classify(text) {
      if (!o.enabled || text.length === 0) return none;
      const w = wholes.size ? lookupWhole(text) : undefined;
      if (w) return verdict(w.confidence, w.detail, text);
      const padded = ` ${text} `;
      let dismissed: Reading;
      for (const i of candidates(wordView(text))) {
        const e = partial[i]!;
        const subject = e.padded ? padded : text;
        e.re.lastIndex = 0;
        if (e.unless?.test(text)) {
          if (e.re.test(subject)) dismissed ??= 'context';
          continue;
        }
        for (let m = e.re.exec(subject); m; m = e.re.exec(subject)) {
          // A padded match starts at the space before its first word: m.index is that word's index in text.
          const reading = e.negatable
            ? readBack(subject, m.index + (e.padded ? 1 : 0), cues, skip)
            : undefined;
          if (!reading) return verdict(e.confidence, e.detail, snippet(text, m.index, m[0].trim().length));
          dismissed ??= reading;
          // Overlapping matches: try again from the next character.
          e.re.lastIndex = m.index + 1;
        }
      }
      return dismissed ? { ...none, detail: dismissed } : none;
    },
  };
}
