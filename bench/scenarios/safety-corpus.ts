/**
 * safety-corpus: the safety gate (default settings, offline second opinion on) over the labelled corpus in
 * test/fixtures/safety/: per-label precision, recall and F1, the confusion matrix, benign messages flagged,
 * the misses, and the cost per decision. No NATS. bench/safety-classifiers.ts prints the same as text and
 * can score an older checkout (--root) for a before/after.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SafetySchema } from '../../src/config/safety-schema.js';
import { gatePredictor, parseCorpus, scoreCorpus } from '../../src/safety/evaluation.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';
import { defaultSecondOpinion, secondOpinionEnrichment } from '../../src/safety/second-opinion.js';
import type { BenchReport } from '../harness.js';

export interface SafetyCorpusOptions {
  /** dev, heldout, blind, blind-2, blind-3, or all. */
  part: string;
  /** Passes over the part for the timing. */
  rounds: number;
  /** Directory of the corpus files. */
  dir: string;
}

export const safetyCorpusDefaults: SafetyCorpusOptions = {
  part: 'heldout',
  rounds: 10,
  dir: 'test/fixtures/safety',
};

const PARTS = ['dev', 'heldout', 'blind', 'blind-2', 'blind-3'];
const pct = (x: number) => Math.round(x * 1000) / 10;

export async function runSafetyCorpus(o: SafetyCorpusOptions): Promise<BenchReport> {
  const parts = o.part === 'all' ? PARTS : [o.part];
  const samples = parts.flatMap((p) => parseCorpus(readFileSync(join(o.dir, `${p}.tsv`), 'utf8')));
  const gate = createSafetyGate(new SafetyPolicy(SafetySchema.parse({})));
  const second = defaultSecondOpinion();
  const predict = gatePredictor(gate, (text) => secondOpinionEnrichment(second, text));
  const r = scoreCorpus(samples, predict);
  const started = process.hrtime.bigint();
  for (let i = 0; i < o.rounds; i++) for (const s of samples) predict(s.text);
  const us = Number(process.hrtime.bigint() - started) / 1000 / (o.rounds * samples.length);
  return {
    scenario: 'safety-corpus',
    machine: { cpus: cpus().length, node: process.version },
    part: o.part,
    messages: r.samples,
    labels: Object.fromEntries(
      Object.entries(r.labels).map(([l, s]) => [
        l,
        {
          n: s.total,
          caught: s.caught,
          recallPct: pct(s.recall),
          precisionPct: pct(s.precision),
          f1: pct(s.f1) / 100,
        },
      ]),
    ),
    benignFlagged: { count: r.benignFlagged, pct: pct(r.benignFlaggedRate) },
    confusion: r.confusion,
    misses: r.misses.map((m) => `${m.label} -> ${m.outcome}: ${m.text}`),
    usPerDecision: Math.round(us * 10) / 10,
  };
}
