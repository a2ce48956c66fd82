/**
 * Trains the offline second opinion (src/safety/second-opinion.ts) on the development part of the safety
 * corpus and writes src/safety/second-opinion-model.json. Deterministic: the same corpus gives the same
 * bytes. Prints a 5-fold cross-validation on the development part (what the thresholds are chosen from) and
 * the scores on the held-out part, which it never trains on. Trains on dev.tsv and the blind parts blind.tsv,
 * blind-2.tsv and blind-3.tsv (each measured once before it joined the development data; see docs/safety.md).
 *
 *   npx tsx scripts/train-safety-model.ts [--check]   (--check: fail if the committed model is stale)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseCorpus, type Sample } from '../src/safety/evaluation.js';
import { NaiveBayesClassifier, trainNaiveBayes } from '../src/safety/second-opinion.js';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const root = resolve(import.meta.dirname, '..');
const corpus = (part: string) =>
  parseCorpus(readFileSync(join(root, 'test/fixtures/safety', `${part}.tsv`), 'utf8'));
const dev = [...corpus('dev'), ...corpus('blind'), ...corpus('blind-2'), ...corpus('blind-3')];
const heldout = corpus('heldout');
const OPTIONS = { alpha: 0.5, minCount: 1 };

/** Per label: share caught at each threshold, and benign messages raised. */
function report(name: string, train: Sample[], test: Sample[]) {
  const c = new NaiveBayesClassifier(trainNaiveBayes(train, OPTIONS));
  const rows: string[] = [];
  for (const threshold of [0.5, 0.7, 0.9, 0.99]) {
    const caught: Record<string, [number, number]> = {};
    for (const s of test) {
      const p = c.predict(s.text);
      const label = s.label === 'benign' ? 'none' : s.label;
      const raised = p.label !== 'none' && p.confidence >= threshold;
      const k = caught[s.label] ?? [0, 0];
      k[1]++;
      if (s.label === 'benign' ? raised : raised && p.label === label) k[0]++;
      caught[s.label] = k;
    }
    rows.push(
      `  >=${threshold}: ${Object.entries(caught)
        .map(([l, [a, b]]) => `${l} ${a}/${b}`)
        .join(', ')} (benign: raised)`,
    );
  }
  console.log(`${name}\n${rows.join('\n')}`);
}

const folds = 5;
const cv: Array<[Sample[], Sample[]]> = [];
for (let f = 0; f < folds; f++)
  cv.push([dev.filter((_, i) => i % folds !== f), dev.filter((_, i) => i % folds === f)]);
const pooledTest = cv.flatMap(([, test]) => test);
// Pooled cross-validation: each message scored by the model that did not see it.
{
  const caught: Record<string, number[]> = {};
  for (const [train, test] of cv) {
    const c = new NaiveBayesClassifier(trainNaiveBayes(train, OPTIONS));
    for (const s of test) {
      const p = c.predict(s.text);
      const right = p.label === (s.label === 'benign' ? 'none' : s.label);
      const list = caught[s.label] ?? [];
      list.push(right ? p.confidence : -p.confidence);
      caught[s.label] = list;
    }
  }
  console.log(
    `cross-validation on ${pooledTest.length} development messages (positive: right label, its posterior)`,
  );
  for (const t of [0.5, 0.7, 0.9, 0.99]) {
    const line = Object.entries(caught).map(([l, xs]) =>
      l === 'benign'
        ? `benign raised ${xs.filter((x) => x < 0 && -x >= t).length}/${xs.length}`
        : `${l} ${xs.filter((x) => x >= t).length}/${xs.length}`,
    );
    console.log(`  >=${t}: ${line.join(', ')}`);
  }
}
report(`held-out (${heldout.length} messages)`, dev, heldout);

const model = trainNaiveBayes(dev, OPTIONS);
const out = join(root, 'src/safety/second-opinion-model.json');
const json = JSON.stringify(model);
if (values.check) {
  if (JSON.stringify(JSON.parse(readFileSync(out, 'utf8'))) !== json) {
    console.error(`${out} is stale: run npx tsx scripts/train-safety-model.ts`);
    process.exit(1);
  }
  console.log(`${out} is current`);
} else {
  writeFileSync(out, `${json}\n`);
  // Laid out the way the repository's formatter wants it, so a retrain diffs cleanly.
  spawnSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', out], { stdio: 'ignore' });
  console.log(
    `wrote ${out}: ${Object.keys(model.features).length} features, labels ${model.labels.join(', ')}`,
  );
}
