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
    run: (o) => {
      const v = withDefaults(spineDefaults, o);
      if (v.rules !== 'echo' && v.rules !== 'none')
        throw new ConfigError('bad --set', [{ path: 'rules', message: `"${v.rules}": echo or none` }]);
      return runSpine(v);
    },
  },
  safety: {
    description:
      'what the safety gate adds per decision: pure gate loop, pre-send check, event -> action latency off vs on',
    run: (o) => runSafety(withDefaults(safetyDefaults, o)),
  },
  'safety-corpus': {
    description:
      'the safety gate over the labelled corpus (test/fixtures/safety): per-label precision, recall and F1, ' +
      'confusion matrix, benign flagged, misses, µs per decision; --set part=dev|heldout|blind|blind-2|blind-3|all',
    run: async (o) => runSafetyCorpus(withDefaults<SafetyCorpusOptions>(safetyCorpusDefaults, o)),
  },
  memory: {
    description: 'resident memory with 50k and 100k conversations touched (passivation)',
    run: (o) => {
      // steps is a list (--set steps=50000,100000) and maxActors has no default: checked here, the rest
      // as the defaults' types.
      const { steps, maxActors, partitions } = withDefaults(
        { partitions: memoryDefaults.partitions, steps: '', maxActors: '' },
        o,
      );
      const v = { partitions };
      const list = steps ? steps.split(',').map(Number) : memoryDefaults.steps;
      const issues = [
        ...(list.every((n) => Number.isInteger(n) && n > 0)
          ? []
          : [{ path: 'steps', message: `"${steps}" is not a list of positive integers` }]),
        ...(maxActors === undefined || Number.isInteger(Number(maxActors))
          ? []
          : [{ path: 'maxActors', message: `"${maxActors}" is not an integer` }]),
      ];
      if (issues.length) throw new ConfigError('bad --set', issues);
      return runMemory({ ...v, steps: list, ...(maxActors ? { maxActors: Number(maxActors) } : {}) });
    },
  },
};
