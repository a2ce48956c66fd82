import t from 'tap';
import { abuseClassifier } from '../../src/safety/abuse-classifier.js';
import { crisisClassifier } from '../../src/safety/crisis-classifier.js';
import { normalizeText } from '../../src/safety/lexicon.js';
import { optOutClassifier } from '../../src/safety/opt-out-classifier.js';
import { revenueObjectionClassifier } from '../../src/safety/revenue-objection-classifier.js';

const run = (
  c: { classify(s: string): { label: string; confidence: number; detail?: string; snippet?: string } },
  text: string,
) => c.classify(normalizeText(text));

t.test(
  'safety classifiers - crisis lexicon flags self-harm and leaves ordinary messages alone',
  async (t) => {
    const c = crisisClassifier();
    const hit = run(c, 'Honestly I just want to die, nothing helps');
    t.equal(hit.label, 'crisis');
    t.ok(hit.confidence >= 0.9);
    t.match(hit.snippet, /want to die/);
    t.equal(run(c, 'I feel SUICIDAL tonight').label, 'crisis', 'suffix wildcard and case');
    t.equal(run(c, "can't go on like this").confidence, 0.55, 'ambiguous distress has low confidence');
    t.equal(run(c, 'this song is killer, love it').label, 'none');
    t.equal(run(c, 'I died laughing 😂').label, 'none');
  },
);

t.test('safety classifiers - abuse lexicon distinguishes threats, insults and hostility', async (t) => {
  const c = abuseClassifier();
  t.same(
    [run(c, 'I know where you live').label, run(c, 'I know where you live').detail],
    ['abuse', 'threat'],
  );
  t.equal(run(c, 'you are a worthless piece of shit').detail, 'insult');
  t.equal(run(c, 'shut up').confidence, 0.55);
  t.equal(run(c, 'you are the best').label, 'none');
});

t.test('safety classifiers - revenue objection names its kind', async (t) => {
  const c = revenueObjectionClassifier();
  t.equal(run(c, 'I want a refund now').detail, 'refund');
  t.equal(run(c, "I'll file a chargeback").detail, 'chargeback');
  t.equal(run(c, 'this is way too expensive').detail, 'price');
  t.equal(run(c, 'how do I cancel my subscription?').detail, 'cancel');
  t.equal(run(c, 'loved the new set').label, 'none');
});

t.test('safety classifiers - opt-out keywords as whole messages, requests inside sentences', async (t) => {
  const c = optOutClassifier();
  for (const m of ['STOP', 'stop.', ' Unsubscribe ', 'STOP ALL', 'Opt-Out', 'cancel']) {
    const v = run(c, m);
    t.same([v.label, v.confidence], ['opt-out', 1], `"${m}"`);
  }
  t.equal(run(c, 'please stop messaging me').confidence, 0.9);
  t.equal(run(c, 'leave me alone').confidence, 0.55, 'ambiguous');
  t.equal(
    run(c, "can't stop listening to your album").label,
    'none',
    'stop inside a sentence is not an opt-out',
  );
  t.equal(run(c, 'stop by the shop').label, 'none');
});

t.test('safety classifiers - configurable lexicons extend or replace the defaults', async (t) => {
  const extended = optOutClassifier({ patterns: [{ pattern: 'basta', whole: true, confidence: 1 }] });
  t.equal(run(extended, 'BASTA').label, 'opt-out');
  t.equal(run(extended, 'stop').label, 'opt-out', 'defaults kept');
  const replaced = optOutClassifier({
    replaceDefaults: true,
    patterns: [{ pattern: 'arrête*', confidence: 0.9 }],
  });
  t.equal(run(replaced, 'stop').label, 'none', 'defaults dropped');
  t.equal(run(replaced, 'arrêtez de m’écrire').label, 'opt-out', 'unicode words and wildcard');
  const regex = crisisClassifier({
    replaceDefaults: true,
    patterns: [{ pattern: '\\bjump(ing)? off\\b', regex: true, confidence: 0.8 }],
  });
  t.equal(run(regex, 'thinking of jumping off a bridge').confidence, 0.8);
  const off = crisisClassifier({ enabled: false });
  t.equal(run(off, 'I want to die').label, 'none', 'disabled');
});
