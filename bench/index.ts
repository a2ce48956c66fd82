/** The bench scenarios `parley bench <scenario>` knows, one per file in scenarios/. */

import { ConfigError } from '../src/errors/app-error.js';
import type { BenchReport } from './harness.js';
import { type E2eOptions, e2eDefaults, runE2e } from './scenarios/e2e.js';
import { memoryDefaults, runMemory } from './scenarios/memory.js';
import { runSafety, safetyDefaults } from './scenarios/safety.js';
import {
  runSafetyCorpus,
  type SafetyCorpusOptions,
  safetyCorpusDefaults,
} from './scenarios/safety-corpus.js';
import { runSpine, spineDefaults } from './scenarios/spine.js';

export interface Scenario {
  description: string;
  run(options: Record<string, string>): Promise<BenchReport>;
}

const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));

/** Every option of `defaults` settable as --set key=value, parsed as the default's type. */
function withDefaults<T extends object>(defaults: T, o: Record<string, string>): T {
  const known: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  const issues = Object.entries(o).flatMap(([k, v]) => {
    const d = known[k];
    if (d === undefined)
      return [{ path: k, message: `unknown option; known: ${Object.keys(known).join(', ')}` }];
    if (typeof d === 'number' && !Number.isFinite(Number(v)))
      return [{ path: k, message: `"${v}" is not a number` }];
    known[k] = typeof d === 'number' ? Number(v) : typeof d === 'boolean' ? v !== 'false' : v;
    return [];
  });
  if (issues.length) throw new ConfigError('bad --set', issues);
  return known as T;
}

export const scenarios: Record<string, Scenario> = {
  e2e: {
    description:
      'the SPEC targets end to end: HTTP ingest -> actors -> webhook to the sim platform, one Parley process; ' +
      'max-rate events/s, ack -> send latency at a paced rate, the raw JetStream ceiling for the same writes, ' +
      'duplicates, unsafe sends, lost events, CPU and peak RSS',
    run: (o) => runE2e(withDefaults<E2eOptions>(e2eDefaults, o)),
  },
  spine: {
    description:
      'events published -> state committed through the actor runtime, vs the raw JetStream ceiling',
    run: (o) =>
      runSpine({
        conversations: num(o.conversations, spineDefaults.conversations),
        events: num(o.events, spineDefaults.events),
        partitions: num(o.partitions, spineDefaults.partitions),
        rules: o.rules === 'none' ? 'none' : 'echo',
        ceiling: o.ceiling !== 'false',
      }),
  },
  safety: {
    description:
      'what the safety gate adds per decision: pure gate loop, pre-send check, event -> action latency off vs on',
    run: (o) =>
      runSafety({
        decisions: num(o.decisions, safetyDefaults.decisions),
        events: num(o.events, safetyDefaults.events),
        rate: num(o.rate, safetyDefaults.rate),
        partitions: num(o.partitions, safetyDefaults.partitions),
      }),
  },
  'safety-corpus': {
    description:
      'the safety gate over the labelled corpus (test/fixtures/safety): per-label precision, recall and F1, ' +
      'confusion matrix, benign flagged, misses, µs per decision; --set part=dev|heldout|blind|blind-2|all',
    run: async (o) => runSafetyCorpus(withDefaults<SafetyCorpusOptions>(safetyCorpusDefaults, o)),
  },
  memory: {
    description: 'resident memory with 50k and 100k conversations touched (passivation)',
    run: (o) =>
      runMemory({
        steps: o.steps ? o.steps.split(',').map(Number) : memoryDefaults.steps,
        partitions: num(o.partitions, memoryDefaults.partitions),
        ...(o.maxActors ? { maxActors: Number(o.maxActors) } : {}),
      }),
  },
};
