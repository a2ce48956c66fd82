import t from 'tap';
import { abuseClassifier } from '../../src/safety/abuse-classifier.js';
import { crisisClassifier } from '../../src/safety/crisis-classifier.js';
import { lexiconClassifier, normalizeText } from '../../src/safety/lexicon.js';
import { optOutClassifier } from '../../src/safety/opt-out-classifier.js';
import { revenueObjectionClassifier } from '../../src/safety/revenue-objection-classifier.js';

const run = (
  c: { classify(s: string): { label: string; confidence: number; detail?: string } },
  text: string,
) => c.classify(normalizeText(text));

t.test('safety lexicon - phrase syntax: alternatives, optional groups, gaps, repeated letters', async (t) => {
  const c = lexiconClassifier('x', 'x', [
    { pattern: '[send|show] me ~ or [i will|else]', confidence: 0.9 },
    { pattern: 'refund*', confidence: 0.8 },
  ]);
  t.equal(run(c, 'send me a video or else').label, 'x', 'a gap of words');
  t.equal(run(c, 'show me or i will tell').label, 'x', 'an empty gap');
  t.equal(run(c, 'send me one two three four or else').label, 'none', 'at most three words');
  t.equal(run(c, 'refundddd pls').label, 'x', 'letters repeat');
  t.equal(run(c, 'refunded').label, 'x', 'wildcard');
  t.equal(run(c, 'nonrefund').label, 'none', 'whole words only');
});

t.test('safety lexicon - negation and reported speech cancel a phrase, and say so', async (t) => {
  const crisis = crisisClassifier();
  t.same(
    [run(crisis, "I'd never hurt myself").label, run(crisis, "I'd never hurt myself").detail],
    ['none', 'negated'],
  );
  t.equal(run(crisis, "I'm not suicidal, just tired").label, 'none');
  t.equal(run(crisis, "i'm not ok. i just want to die").label, 'crisis', 'a negation two clauses back');
  t.equal(run(crisis, 'not joking i want to die').label, 'crisis');
  t.same(
    [
      run(crisis, 'the song says i want to die lol').label,
      run(crisis, 'the song says i want to die lol').detail,
    ],
    ['none', 'reported'],
  );
  t.equal(run(crisis, 'my friend said she wants to die when she hears that song').label, 'none');
  const optOut = optOutClassifier();
  t.equal(run(optOut, "please don't stop sending me pics").label, 'none', 'the issue example');
  t.equal(run(optOut, 'never stop texting me').label, 'none');
  t.equal(run(optOut, 'not interested, remove me').label, 'opt-out', 'a negation of something else');
});

t.test(
  'safety lexicon - crisis: indirect ideation, method, self-harm in any tense, figures of speech',
  async (t) => {
    const c = crisisClassifier();
    for (const m of [
      'everyone would be better off without me',
      'no reason to keep living',
      'i wrote a goodbye letter',
      'not going to be around much longer',
      'i just want to sleep and never wake up',
      'swallowed my pills',
      'the rope is ready',
      'thinking about jumping off the bridge',
      'cut myself last night',
      'self harming again',
      'i w4nt to d1e',
      'k m s',
    ])
      t.equal(run(c, m).label, 'crisis', m);
    t.equal(
      run(c, "can't go on like this").detail,
      'distress',
      'crisis-adjacent: low confidence, still crisis',
    );
    for (const m of [
      "i'm dying to see you",
      'you killed it',
      'that dress is to die for',
      'cut myself shaving lol',
    ])
      t.equal(run(c, m).label, 'none', m);
  },
);

t.test(
  'safety lexicon - abuse: threats without profanity, doxxing, sextortion; banter left alone',
  async (t) => {
    const c = abuseClassifier();
    t.equal(run(c, "I'll find you").detail, 'threat');
    t.equal(run(c, "i'll ruin your life").detail, 'threat');
    t.equal(run(c, "i'll post your address").detail, 'doxxing');
    t.equal(run(c, "send more pics or i'll post the ones i have").detail, 'sextortion');
    t.equal(run(c, 'fuk u').detail, 'insult');
    for (const m of [
      "i'll shoot you an email",
      "i'll find you at the meet and greet",
      'you absolutely killed it',
    ])
      t.equal(run(c, m).label, 'none', m);
  },
);

t.test(
  'safety lexicon - revenue: disputes without the words, cancellations; questions before buying',
  async (t) => {
    const c = revenueObjectionClassifier();
    t.equal(run(c, "I didn't authorize this").detail, 'dispute');
    t.equal(run(c, 'please reverse this charge').detail, 'dispute');
    t.equal(run(c, 'charged after i cancelled').detail, 'dispute');
    t.equal(run(c, 'end my membership').detail, 'cancel');
    t.equal(run(c, "what's your refund policy?").label, 'none');
    t.equal(run(c, "do you offer refunds if i don't like it?").label, 'none');
    t.equal(run(c, 'i want a refund, your refund policy says 30 days').label, 'revenue-objection');
    t.equal(run(c, "i don't want to cancel").label, 'none', 'negated');
  },
);

t.test('safety lexicon - opt-out: carrier keywords however typed, requests, four languages', async (t) => {
  const c = optOutClassifier();
  for (const m of [
    'STOPALL',
    'REVOKE',
    'OPTOUT',
    'QUIT',
    'END',
    'stoooop',
    's t o p',
    'stop please',
    'stop. seriously.',
  ])
    t.same([run(c, m).label, run(c, m).confidence], ['opt-out', 1], m);
  for (const m of ['remove my number', 'no more texts', 'u n s u b s c r i b e', 'take me off your list'])
    t.equal(run(c, m).label, 'opt-out', m);
  for (const m of ['BAJA', 'no me envíen más mensajes', 'PARE', 'não quero mais receber mensagens'])
    t.equal(run(c, m).label, 'opt-out', m);
  for (const m of ['ARRÊT', 'je ne veux plus recevoir de messages', 'STOPP', 'keine Nachrichten mehr'])
    t.equal(run(c, m).label, 'opt-out', m);
  for (const m of [
    'stop by the shop',
    'when does the stream end?',
    'i quit my job today',
    'stop it you are so cute',
  ])
    t.equal(run(c, m).label, 'none', m);
});
