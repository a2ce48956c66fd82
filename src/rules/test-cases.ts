/**
 * Rule test cases (`rules/*.test.yaml`): events in, expected decisions out, run through the simulator with
 * a virtual clock. Used by `parley rules test` and by the test suite (test/unit/rule-cases.test.ts).
 *
 *   cases:
 *     - name: reply within 48h gets a thank-you
 *       start: 2026-01-05T10:00:00Z        # virtual clock start (default 2026-01-01T00:00:00Z)
 *       profile: { tier: vip }              # applied as a profile.updated event first
 *       steps:
 *         - event: follow.back              # an event of this type, now
 *           attributes: { handle: ana }
 *         - advance: 49h                    # move the clock; due timers fire (windows close)
 *       expect:                             # every decision, in order; listed fields must match
 *         - { rule: follow-back, template: follow-back-dm }
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { parseYamlSource, zodIssues } from '../config/yaml-source.js';
import { EventTypeSchema, SCHEMA_VERSION, TokenSchema } from '../contracts/envelope.js';
import { ConfigError } from '../errors/app-error.js';
import type { RuleSet } from './rule-set.js';
import { DurationSchema, durationMs } from './schema.js';
import { type SimDecision, Simulator } from './simulator.js';

const StepSchema = z.union([
  z
    .object({
      event: EventTypeSchema,
      attributes: z.record(z.string(), z.unknown()).default({}),
      after: DurationSchema.optional().describe('Advance the clock this long first'),
      id: z.string().optional(),
    })
    .strict(),
  z.object({ advance: DurationSchema }).strict(),
]);

const ExpectedSchema = z
  .object({
    rule: z.string().optional(),
    channel: z.string().optional(),
    template: z.string().optional(),
    variant: z.string().optional(),
    journey: z.string().optional(),
    step: z.string().optional(),
    eventType: z.string().optional(),
    digest: z.number().int().optional().describe('A digest send: how many events it lists'),
    lastEvent: z.string().optional().describe('Debounce/digest: id of the event the send carries'),
    variables: z.record(z.string(), z.unknown()).optional().describe('Listed variables must be equal'),
  })
  .strict();

const CaseSchema = z
  .object({
    name: z.string().min(1),
    tenant: TokenSchema.default('acme'),
    conversation: TokenSchema.default('c1'),
    start: z.iso.datetime({ offset: true }).default('2026-01-01T00:00:00Z'),
    profile: z.record(z.string(), z.unknown()).optional(),
    steps: z.array(StepSchema).min(1),
    expect: z.array(ExpectedSchema).describe('Every decision, in order'),
    signals: z.array(EventTypeSchema).optional().describe('Detector signals emitted, in order'),
  })
  .strict();

export const TestFileSchema = z
  .object({ description: z.string().optional(), cases: z.array(CaseSchema).min(1) })
  .strict();

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  problems: string[];
  decisions: SimDecision[];
}

function matches(expected: z.infer<typeof ExpectedSchema>, got: SimDecision): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(expected)) {
    if (k === 'variables') {
      for (const [name, want] of Object.entries(v as Record<string, unknown>)) {
        if (!isDeepStrictEqual(got.variables[name], want))
          problems.push(
            `variables.${name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got.variables[name])}`,
          );
      }
    } else if ((got as unknown as Record<string, unknown>)[k] !== v) {
      problems.push(
        `${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify((got as unknown as Record<string, unknown>)[k])}`,
      );
    }
  }
  return problems;
}

function describe(d: SimDecision): string {
  return `${d.rule}${d.step ? `/${d.step}` : ''} -> ${d.channel}:${d.template}${d.variant ? ` [${d.variant}]` : ''} (on ${d.eventType})`;
}

export function runCase(rules: RuleSet, file: string, c: z.infer<typeof CaseSchema>): CaseResult {
  const sim = new Simulator(rules);
  let now = Date.parse(c.start);
  let n = 0;
  const event = (type: string, attributes: Record<string, unknown>, id?: string) =>
    sim.apply(
      {
        schema: SCHEMA_VERSION,
        id: id ?? `${c.conversation}-${++n}`,
        type,
        tenant: c.tenant,
        conversation: c.conversation,
        occurredAt: new Date(now).toISOString(),
        attributes,
      },
      now,
    );
  if (c.profile) event('profile.updated', c.profile);
  for (const step of c.steps) {
    if ('advance' in step) {
      now += durationMs(step.advance);
      sim.advanceTo(now);
      continue;
    }
    if (step.after) {
      now += durationMs(step.after);
      sim.advanceTo(now);
    }
    event(step.event, step.attributes, step.id);
  }
  const got = sim.decisions;
  const problems: string[] = [];
  for (let i = 0; i < Math.max(got.length, c.expect.length); i++) {
    const want = c.expect[i];
    const have = got[i];
    if (!want) problems.push(`unexpected decision #${i + 1}: ${describe(have!)}`);
    else if (!have) problems.push(`missing decision #${i + 1}: ${JSON.stringify(want)}`);
    else for (const p of matches(want, have)) problems.push(`decision #${i + 1} (${describe(have)}): ${p}`);
  }
  if (c.signals) {
    const types = sim.signals.map((s) => s.type);
    if (!isDeepStrictEqual(types, c.signals))
      problems.push(`signals: expected ${JSON.stringify(c.signals)}, got ${JSON.stringify(types)}`);
  }
  return { file, name: c.name, ok: problems.length === 0, problems, decisions: got };
}

/** Reads and runs every *.test.yaml in `dir` against `rules`. Throws ConfigError for invalid case files. */
export function runTestCases(rules: RuleSet, dir: string): CaseResult[] {
  const results: CaseResult[] = [];
  const files = readdirSync(dir)
    .filter((f) => /\.test\.ya?ml$/.test(f))
    .sort();
  for (const file of files) {
    const { source, issues } = parseYamlSource(file, readFileSync(join(dir, file), 'utf8'));
    if (issues.length > 0) throw new ConfigError(`invalid test cases in ${file}`, issues);
    const parsed = TestFileSchema.safeParse(source.doc.toJS());
    if (!parsed.success)
      throw new ConfigError(`invalid test cases in ${file}`, zodIssues(source, parsed.error));
    for (const c of parsed.data.cases) results.push(runCase(rules, file, c));
  }
  return results;
}
