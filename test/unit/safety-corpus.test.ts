import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tap from 'tap';
import { SafetySchema } from '../../src/config/safety-schema.js';
import {
  type CorpusReport,
  formatCorpusReport,
  gatePredictor,
  parseCorpus,
  scoreCorpus,
} from '../../src/safety/evaluation.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';
import {
  defaultSecondOpinion,
  secondOpinionEnrichment,
  trainNaiveBayes,
} from '../../src/safety/second-opinion.js';
import MODEL from '../../src/safety/second-opinion-model.json' with { type: 'json' };

const dir = join(import.meta.dirname, '../fixtures/safety');
const corpus = (part: string) => parseCorpus(readFileSync(join(dir, `${part}.tsv`), 'utf8'));
const heldout = corpus('heldout');
const gate = createSafetyGate(new SafetyPolicy(SafetySchema.parse({})));
const enrich = (text: string) => secondOpinionEnrichment(defaultSecondOpinion(), text);

/** The goals on the held-out part. */
function assertGoals(t: { equal: typeof tap.equal; ok: typeof tap.ok }, r: CorpusReport, name: string) {
  const why = `\n${formatCorpusReport(name, r)}`;
  t.equal(r.labels.crisis.recall, 1, `crisis recall 100%${why}`);
  t.equal(r.labels['opt-out'].recall, 1, `opt-out recall 100%${why}`);
  t.ok(r.labels.abuse.recall >= 0.95, `abuse recall ${r.labels.abuse.recall} >= 95%${why}`);
  t.ok(
    r.labels['revenue-objection'].recall >= 0.9,
    `revenue objection recall ${r.labels['revenue-objection'].recall} >= 90%${why}`,
  );
  t.ok(r.benignFlaggedRate <= 0.03, `benign flagged ${r.benignFlaggedRate} <= 3%${why}`);
}

tap.test('safety corpus - the held-out part meets the recall and false-positive goals', async (t) => {
  t.ok(heldout.length >= 200, 'a held-out part of a few hundred messages');
  assertGoals(t, scoreCorpus(heldout, gatePredictor(gate, enrich)), 'held-out, lexicons + second opinion');
  // The second opinion is a safety net, not what the goals rest on.
  assertGoals(t, scoreCorpus(heldout, gatePredictor(gate)), 'held-out, lexicons alone');
});

tap.test('safety corpus - the second opinion only adds escalations, never removes an outcome', async (t) => {
  const withIt = gatePredictor(gate, enrich);
  const without = gatePredictor(gate);
  const lost: string[] = [];
  const dnd: string[] = [];
  const raised: string[] = [];
  for (const s of [
    ...corpus('dev'),
    ...heldout,
    ...corpus('blind'),
    ...corpus('blind-2'),
    ...corpus('blind-3'),
  ]) {
    const a = without(s.text);
    const b = withIt(s.text);
    for (const o of a) if (!b.has(o)) lost.push(`${o}: ${s.text}`);
    if (b.has('opt-out') !== a.has('opt-out')) dnd.push(s.text);
    if (b.size > a.size) raised.push(s.text);
  }
  t.same(lost, [], 'no outcome of the lexicons is lost');
  t.same(dnd, [], "DND is the lexicons' call alone");
  // Unseen phrasing is what it is for: a crisis no lexicon phrase covers.
  const unseen = 'im going to take all of them tonight';
  t.same([...without(unseen)], [], 'no lexicon phrase covers it');
  t.same([...withIt(unseen)], ['crisis'], 'the second opinion escalates it as a crisis');
});

tap.test('safety corpus - the shipped model is what the training script makes of the corpus', async (t) => {
  const trained = trainNaiveBayes(
    [...corpus('dev'), ...corpus('blind'), ...corpus('blind-2'), ...corpus('blind-3')],
    {
      alpha: 0.5,
      minCount: 1,
    },
  );
  t.same(trained, MODEL, 'run npx tsx scripts/train-safety-model.ts after changing the corpus');
  t.notOk(
    heldout.some((h) => corpus('dev').some((d) => d.text.toLowerCase() === h.text.toLowerCase())),
    'no held-out message is in the development part',
  );
});
