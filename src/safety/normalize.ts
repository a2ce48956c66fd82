/**
 * Message normalisation: one canonical form of what a fan wrote, so that a lexicon entry written once
 * matches the ways people actually type it. In order: Unicode NFKC (fullwidth and "fancy" letters), invisible
 * characters dropped, a few emoji as words (🔪 knife, 💊 pills, 🛑 stop), lower case, look-alike Cyrillic and
 * Greek letters, accents stripped (arrêtez = arretez), leetspeak inside words (k1ll, $uicide, st0p),
 * punctuation to spaces, words spelled out letter by letter or run together (u n s u b s c r i b e,
 * iwanttodie) split back into words, chat abbreviations and contractions written out (u r -> you are,
 * don't -> do not, wanna -> want to), and letters repeated past two cut to two (stooooop -> stoop; the
 * lexicon lets each letter of a phrase repeat). Deterministic, no I/O, a few µs per message.
 */

const INVISIBLE =
  /\u00ad|\u034f|\u061c|\u115f|\u1160|\u17b4|\u17b5|\u180e|[\u200b-\u200f]|[\u202a-\u202e]|[\u2060-\u206f]|[\ufe00-\ufe0f]|\ufeff/g;

/** Emoji that carry meaning for the classifiers; every other emoji becomes a space with the punctuation. */
const EMOJI: Record<string, string> = {
  '🔪': 'knife',
  '🗡': 'knife',
  '🔫': 'gun',
  '💣': 'bomb',
  '💊': 'pills',
  '🩸': 'blood',
  '🪦': 'grave',
  '⚰': 'coffin',
  '🪢': 'rope',
  '🛑': 'stop',
  '⛔': 'stop',
  '🖕': 'fuck you',
  '💔': 'heartbroken',
  '😭': 'crying',
  '😢': 'sad',
  '😞': 'sad',
  '😔': 'sad',
  '😂': 'lol',
  '🤣': 'lol',
  '😆': 'lol',
  '😈': 'devil',
  '💀': 'skull',
  '🔥': 'fire',
  '❤': 'love',
  '😍': 'love',
};
const EMOJI_RE = new RegExp(`(${Object.keys(EMOJI).join('|')})`, 'gu');

/** Latin look-alikes people (and spammers) swap in: Cyrillic and Greek. */
const CONFUSABLE: Record<string, string> = {
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  к: 'k',
  м: 'm',
  т: 't',
  н: 'h',
  в: 'b',
  α: 'a',
  ο: 'o',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ρ: 'p',
  τ: 't',
  υ: 'u',
};
const CONFUSABLE_RE = new RegExp(`[${Object.keys(CONFUSABLE).join('')}]`, 'gu');

/** Whole tokens whose digits are words, not leetspeak. */
const NUMERIC_SLANG: Record<string, string> = {
  b4: 'before',
  gr8: 'great',
  h8: 'hate',
  l8r: 'later',
  '2day': 'today',
  '2nite': 'tonight',
  '2morrow': 'tomorrow',
  '4ever': 'forever',
  w8: 'wait',
  '2x': 'twice',
};

const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
  '|': 'i',
};

const LEET_CHARS = /[013457@$!|]/;
const LETTER = /\p{L}/u;

/** Leetspeak only inside a word: a token with letters whose symbols sit next to a letter. */
function deLeet(token: string): string {
  if (!LEET_CHARS.test(token) || !LETTER.test(token)) return token;
  // Trailing or leading punctuation is punctuation ("stop!", "$50"), not a letter in disguise.
  const m = /^([^\p{L}\p{N}@$]*)(.*?)([^\p{L}\p{N}]*)$/u.exec(token)!;
  const core = m[2]!;
  if (!/\p{L}/u.test(core)) return token;
  const chars = [...core];
  const out = chars.map((c, i) => {
    const leet = LEET[c];
    if (!leet) return c;
    const isLetter = (x: string | undefined) => x !== undefined && /\p{L}/u.test(x);
    const near = isLetter(chars[i - 1]) || isLetter(chars[i + 1]);
    // ! and | only between two letters (k!ll), digits and $ @ next to any letter (5top, $uicide, r@pe).
    if (c === '!' || c === '|') return isLetter(chars[i - 1]) && isLetter(chars[i + 1]) ? leet : c;
    return near ? leet : c;
  });
  return m[1]! + out.join('') + m[3]!;
}

/**
 * Words the classifiers care about, for putting spelled-out (s t o p) and run-together (iwanttodie) text
 * back into words. Fewest words wins, so "unsubscribe" stays one word.
 */
const SEGMENT_WORDS = [
  ...'i im a u you ur me my myself yourself urself your to want wanna gonna going die dead kill killing end'.split(
    ' ',
  ),
  ...'it itself all life stop stopall unsubscribe unsub optout opt out cancel quit revoke remove please pls now'.split(
    ' ',
  ),
  ...'kms kys hate fuck off shut up bitch refund chargeback suicide suicidal self harm cut cutting hurt'.split(
    ' ',
  ),
  ...'texting messaging text texts message messages no more never again goodbye bye cunt whore slut rape'.split(
    ' ',
  ),
  ...'find will ill dox leak nudes pics money back go am not do dont sending send'.split(' '),
];
const SEGMENT_BY_FIRST = new Map<string, string[]>();
for (const w of new Set(SEGMENT_WORDS)) {
  const list = SEGMENT_BY_FIRST.get(w[0]!) ?? [];
  list.push(w);
  SEGMENT_BY_FIRST.set(w[0]!, list);
}

/** End positions in `s` where `word` can match from `p`, each of its letters possibly repeated. */
function matchEnds(word: string, s: string, p: number): number[] {
  let ends = [p];
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    const next: number[] = [];
    for (const e of ends) {
      if (s[e] !== c) continue;
      next.push(e + 1);
      // A letter repeated in the text beyond the word's own (stooop); not when the word repeats it itself.
      if (word[i + 1] !== c) for (let k = e + 1; k < s.length && s[k] === c; k++) next.push(k + 1);
    }
    if (next.length === 0) return [];
    ends = next;
  }
  return ends;
}

/** `s` as the fewest SEGMENT_WORDS, or undefined when it is not made of them (dynamic programming). */
function segment(s: string): string[] | undefined {
  const n = s.length;
  const count = new Array<number>(n + 1).fill(Number.POSITIVE_INFINITY);
  const from = new Array<number>(n + 1).fill(-1);
  const word = new Array<string>(n + 1);
  count[0] = 0;
  for (let p = 0; p < n; p++) {
    if (count[p] === Number.POSITIVE_INFINITY) continue;
    const candidates = SEGMENT_BY_FIRST.get(s[p]!);
    if (!candidates) continue;
    for (const w of candidates) {
      for (const e of matchEnds(w, s, p)) {
        if (count[p]! + 1 < count[e]!) {
          count[e] = count[p]! + 1;
          from[e] = p;
          word[e] = w;
        }
      }
    }
  }
  if (from[n] === -1) return undefined;
  const out: string[] = [];
  for (let e = n; e > 0; e = from[e]!) out.push(word[e]!);
  return out.reverse();
}

/** Long words repeat across messages; the cache is bounded (cleared when full), so memory stays flat. */
const SEGMENTED = new Map<string, string[] | undefined>();
function segmentCached(token: string): string[] | undefined {
  if (SEGMENTED.has(token)) return SEGMENTED.get(token);
  const words = segment(token);
  if (SEGMENTED.size >= 10_000) SEGMENTED.clear();
  SEGMENTED.set(token, words);
  return words;
}

/** Runs of three or more single letters (s t o p), and long run-together tokens, put back into words. */
function resegment(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; ) {
    let j = i;
    while (j < tokens.length && tokens[j]!.length === 1 && /\p{L}/u.test(tokens[j]!)) j++;
    if (j - i >= 3) {
      const words = segment(tokens.slice(i, j).join(''));
      out.push(...(words ?? tokens.slice(i, j)));
      i = j;
      continue;
    }
    const t = tokens[i]!;
    if (t.length >= 6 && /^[a-z]+$/.test(t)) {
      const words = segmentCached(t);
      out.push(...(words && words.length > 1 ? words : [t]));
    } else out.push(t);
    i++;
  }
  return out;
}

/** Contractions written without the apostrophe, and chat abbreviations. */
const EXPAND: Record<string, string> = {
  dont: 'do not',
  doesnt: 'does not',
  didnt: 'did not',
  cant: 'can not',
  cannot: 'can not',
  wont: 'will not',
  wouldnt: 'would not',
  couldnt: 'could not',
  shouldnt: 'should not',
  isnt: 'is not',
  arent: 'are not',
  wasnt: 'was not',
  werent: 'were not',
  havent: 'have not',
  hasnt: 'has not',
  aint: 'am not',
  hadnt: 'had not',
  mustnt: 'must not',
  neednt: 'need not',
  shant: 'shall not',
  theyve: 'they have',
  weve: 'we have',
  im: 'i am',
  ive: 'i have',
  youre: 'you are',
  youll: 'you will',
  youve: 'you have',
  theyre: 'they are',
  thats: 'that is',
  whats: 'what is',
  theres: 'there is',
  itll: 'it will',
  u: 'you',
  ya: 'you',
  yu: 'you',
  r: 'are',
  urself: 'yourself',
  pls: 'please',
  plz: 'please',
  plez: 'please',
  pleez: 'please',
  msg: 'message',
  msgs: 'messages',
  msging: 'messaging',
  txt: 'text',
  txts: 'texts',
  txting: 'texting',
  wanna: 'want to',
  gonna: 'going to',
  gotta: 'got to',
  tryna: 'trying to',
  ima: 'i am going to',
  imma: 'i am going to',
  rn: 'right now',
  bc: 'because',
  cuz: 'because',
  coz: 'because',
  ppl: 'people',
  thx: 'thanks',
  luv: 'love',
  fu: 'fuck you',
  stfu: 'shut the fuck up',
  fuk: 'fuck',
  fck: 'fuck',
  fking: 'fucking',
};

/** "ill" is "i will" before a verb of intent, else the word ill. */
const ILL_VERBS = new Set(
  (
    'find kill hurt ruin post make leak send tell come be never report track get beat burn put spread hack ' +
    'follow show do see dox shoot expose destroy end take unsubscribe cancel call file dispute sue always ' +
    'just probably literally stab rape'
  ).split(' '),
);
/** "ur" is "you are" before these, else "your". */
const UR_ARE = new Set(
  'a an so such the going gonna dead getting trash ugly stupid pathetic disgusting fat worthless nothing done finished not being'.split(
    ' ',
  ),
);

function expand(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t === 'ill' && next && ILL_VERBS.has(next)) out.push('i', 'will');
    else if (t === 'id' && next && ILL_VERBS.has(next)) out.push('i', 'would');
    else if (t === 'ur') out.push(...(next && UR_ARE.has(next) ? ['you', 'are'] : ['your']));
    else {
      const e = EXPAND[t] ?? NUMERIC_SLANG[t];
      if (e) out.push(...e.split(' '));
      else out.push(t);
    }
  }
  return out;
}

const APOSTROPHE = /['\u2018\u2019\u02bc`\u00b4]/;
const NON_ASCII = /[\u0080-\uffff]/;

/** Unicode folding: compatibility forms, invisible characters, emoji as words, look-alikes, accents. */
function foldUnicode(text: string): string {
  return text
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(EMOJI_RE, (e) => ` ${EMOJI[e]} `)
    .toLowerCase()
    .replace(CONFUSABLE_RE, (c) => CONFUSABLE[c]!)
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/ß/g, 'ss');
}

/**
 * Recent messages and their normal forms: the enrichment step (second opinion) and the gate read the same
 * message moments apart. Bounded (cleared when full); a pure function's memo, so results never differ.
 */
const RECENT = new Map<string, string>();

/** The canonical form lexicons match against (see the module header). */
export function normalizeText(text: string): string {
  // Long texts are not kept: the memo stays a few megabytes at most.
  if (text.length > 500) return normalizeUncached(text);
  let out = RECENT.get(text);
  if (out === undefined) {
    out = normalizeUncached(text);
    if (RECENT.size >= 4096) RECENT.clear();
    RECENT.set(text, out);
  }
  return out;
}

function normalizeUncached(text: string): string {
  let s = NON_ASCII.test(text) ? foldUnicode(text) : text.toLowerCase();
  // Apostrophes: 'll and i'd are unambiguous here, the rest go (don't -> dont, expanded below).
  if (APOSTROPHE.test(s))
    s = s
      .replace(/['\u2018\u2019\u02bc`\u00b4]ll\b/g, ' will')
      .replace(/\bi['\u2018\u2019\u02bc`\u00b4]d\b/g, 'i would')
      .replace(/['\u2018\u2019\u02bc`\u00b4]/g, '');
  if (LEET_CHARS.test(s)) s = s.split(/\s+/).map(deLeet).join(' ');
  const tokens = s
    .replace(/[^\p{L}\p{N}\s]+/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const out = expand(resegment(tokens)).join(' ');
  return REPEAT3.test(out) ? out.replace(/(\p{L})\1{2,}/gu, '$1$1') : out;
}

const REPEAT3 = /(\p{L})\1\1/u;

/** Every run of a repeated letter cut to one: the key whole-message keywords are looked up by. */
export function squeeze(normalized: string): string {
  return normalized.replace(/(\p{L})\1+/gu, '$1');
}
