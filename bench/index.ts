/** The bench scenarios `parley bench <scenario>` knows, one per file in scenarios/. */

import type { BenchReport } from './harness.js';
import { memoryDefaults, runMemory } from './scenarios/memory.js';
import { runSafety, safetyDefaults } from './scenarios/safety.js';
import { runSpine, spineDefaults } from './scenarios/spine.js';

export interface Scenario {
  description: string;
  run(options: Record<string, string>): Promise<BenchReport>;
}

const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));

export const scenarios: Record<string, Scenario> = {
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
