/**
 * The safety classifiers on the labelled corpus (test/fixtures/safety/): per-label precision, recall and F1,
 * the confusion matrix and the misses, then the cost per decision in µs (the four lexicons alone; the whole
 * gate review with the offline second opinion). No NATS, no network: `npx tsx bench/safety-classifiers.ts`.
 *
 *   --part NAME              dev, heldout, blind, blind-2, blind-3 or all (default: dev and heldout, separately)
 *   --root DIR               score another checkout's src/ (e.g. an exported older commit) on the same corpus
 *   --misses                 list every miss
 *   --rounds N               passes over the corpus for the timing (default 20)
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatCorpusReport, gatePredictor, parseCorpus, scoreCorpus } from '../src/safety/evaluation.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'both' },
    root: { type: 'string' },
    misses: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '20' },
  },
});

const here = resolve(import.meta.dirname, '..');
const root = resolve(values.root ?? here);
const load = (path: string) => import(pathToFileURL(join(root, path)).href);

const { SafetySchema } = await load('src/config/safety-schema.ts');
const { SafetyPolicy } = await load('src/safety/policy.ts');
const { createSafetyGate } = await load('src/safety/safety-gate.ts');
const { normalizeText } = await load('src/safety/lexicon.ts');
const secondOpinion = await load('src/safety/second-opinion.ts').catch(() => undefined);

const config = SafetySchema.parse({});
const policy = new SafetyPolicy(config);
const gate = createSafetyGate(policy);
const enrich: ((text: string) => Record<string, unknown> | undefined) | undefined =
  secondOpinion && config.secondOpinion?.enabled !== false
    ? (text) => secondOpinion.secondOpinionEnrichment(secondOpinion.defaultSecondOpinion(), text)
    : undefined;

const corpus = (part: string) =>
  parseCorpus(readFileSync(join(here, 'test/fixtures/safety', `${part}.tsv`), 'utf8'));
const parts =
  values.part === 'both'
    ? [
        ['dev', corpus('dev')],
        ['heldout', corpus('heldout')],
      ]
    : values.part === 'all'
      ? [['all', [...corpus('dev'), ...corpus('heldout')]]]
      : [[values.part!, corpus(values.part!)]];

console.log(`safety classifiers from ${root === here ? 'this checkout' : root}`);
console.log(`second opinion: ${enrich ? 'on' : 'absent'}\n`);
for (const [name, samples] of parts as Array<[string, ReturnType<typeof parseCorpus>]>) {
  const report = scoreCorpus(samples, gatePredictor(gate, enrich));
  console.log(formatCorpusReport(name, report, values.misses), '\n');
}

// Timing: the lexicons alone, the second opinion, then the whole gate review (classification, guards,
// escalations, audit records) -- over the whole corpus (mostly risky messages, so mostly escalations) and
// over its benign messages alone (what most real traffic looks like).
const all = [...corpus('dev'), ...corpus('heldout')];
const rounds = Number(values.rounds);
const time = (label: string, texts: string[], fn: (text: string) => unknown) => {
  for (const t of texts) fn(t); // warm up
  // Each round's messages differ (a number appended), so nothing is served from a memo of the last round.
  const variants = Array.from({ length: rounds }, (_, r) => texts.map((t) => `${t} ${r + 1}`));
  const started = process.hrtime.bigint();
  for (const round of variants) for (const t of round) fn(t);
  const us = Number(process.hrtime.bigint() - started) / 1000 / (rounds * texts.length);
  console.log(`${label.padEnd(52)} ${us.toFixed(1).padStart(7)} µs per decision`);
};
const predict = gatePredictor(gate, enrich);
for (const [name, texts] of [
  ['corpus', all.map((s) => s.text)],
  ['benign', all.filter((s) => s.label === 'benign').map((s) => s.text)],
] as const) {
  time(`${name}: lexicon classifiers (normalise + 4 lexicons)`, [...texts], (t) => {
    const n = normalizeText(t);
    for (const c of policy.classifiers) c.classify(n);
  });
  if (enrich) time(`${name}: second opinion (naive Bayes)`, [...texts], (t) => enrich(t));
  time(`${name}: gate review${enrich ? ' + second opinion' : ''}`, [...texts], predict);
}
