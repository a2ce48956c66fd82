/**
 * The scenario file of `parley bench <scenario.yaml>`: one zod schema, `.strict()` at every level so a typo
 * fails with its file, line and key named (the config loader's YAML helpers), with defaults and a
 * `.describe()` on every key. bench/README.md walks through them; this file is the reference.
 *
 * A scenario says what load to offer (a workload mix over N conversations, phases of a rate), to what
 * (one or more Parley processes, the simulated platform's limits) and what to compare with (peers). The
 * runner (bench/run/) is the engine; the code scenarios of bench/index.ts stay for `--set` use.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';
import { parseYamlSource, zodIssues } from '../src/config/yaml-source.js';
import { ConfigError } from '../src/errors/app-error.js';

const share = (what: string) =>
  z.number().min(0).max(1).describe(`Share of conversations (0-1) that ${what}`);

export const MixSchema = z
  .object({
    optOut: share('open with "STOP" (opt-out; every later send to them is unsafe)').default(0.03),
    risky: share('open with a crisis or abuse message (escalated; every later send is unsafe)').default(0.01),
    buyers: share('purchase now and then (purchase.completed; a thank-you and the journey)').default(0.2),
    quiet: share('go quiet after `quietAfterRounds` messages (the inactivity detector fires)').default(0.1),
    quietAfterRounds: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe('Events a quiet conversation sends before it goes quiet'),
    purchaseEvery: z
      .number()
      .int()
      .min(2)
      .default(5)
      .describe("A buyer's event n is a purchase when n % purchaseEvery == 1; the next message is the reply"),
  })
  .strict()
  .describe('The workload mix; what is left after the shares is plain chat (message.received)');

export const JourneySchema = z
  .object({
    enabled: z.boolean().default(true).describe('Enter a journey on purchase.completed'),
    waitTimeout: z
      .string()
      .default('20s')
      .describe('How long the journey waits for the reply before it nudges (a rules duration: 20s, 5m)'),
  })
  .strict()
  .describe('The journey: on purchase, a welcome; wait for a reply; "replied" or, on timeout, a nudge');

export const InactivitySchema = z
  .object({
    enabled: z.boolean().default(true).describe('Run the inactivity detector and its re-engagement rule'),
    after: z.string().default('30s').describe('Silence before detector.inactive (a rules duration)'),
  })
  .strict();

export const RateSchema = z
  .union([
    z.literal('max'),
    z.number().positive(),
    z.object({ from: z.number().positive(), to: z.number().positive() }).strict(),
    z
      .object({ ofHeadline: z.number().positive().max(1) })
      .strict()
      .describe("A share of the headline phase's measured rate (in a phase after the headline)"),
  ])
  .describe(
    '"max" (closed loop: as fast as the in-flight and backlog bounds allow), events/s, {from, to} (a linear ramp) or {ofHeadline}',
  );

export const IngestSchema = z
  .object({
    batch: z.number().int().min(1).max(1000).default(1).describe('Events per request (1 = one per submit)'),
    inFlight: z.number().int().min(1).max(1024).default(128).describe('Requests (submits) in flight at most'),
    maxBacklog: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe('Acknowledged-but-unsent events the driver allows (0 = open loop)'),
  })
  .strict()
  .describe('How the producer submits events (the same for Parley and every peer)');

export const PhaseSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and -')
      .describe('Shown in reports'),
    seconds: z.number().positive().max(3600).describe('How long the phase offers load'),
    rate: RateSchema,
    headline: z
      .boolean()
      .default(false)
      .describe('The phase whose figures are the headline (default: the last phase)'),
    ingest: IngestSchema.partial().optional().describe("This phase's own batch, inFlight or maxBacklog"),
  })
  .strict();

export const PlatformSchema = z
  .object({
    perSecond: z
      .number()
      .positive()
      .default(1e9)
      .describe('The simulated platform limit per account: above it, 429 with Retry-After'),
    burst: z.number().positive().optional().describe('Token-bucket size (default perSecond)'),
    failureRate: z.number().min(0).max(1).default(0).describe('Share of sends answered 503'),
    latencyMs: z.number().min(0).default(0).describe('Added latency per send'),
  })
  .strict()
  .describe('The simulated platform (the webhook receiver), run in the bench process');

export const ParleySchema = z
  .object({
    processes: z
      .number()
      .int()
      .min(1)
      .max(8)
      .default(1)
      .describe('Parley processes, every role each, sharing the partitions by lease'),
    partitions: z.number().int().min(1).max(1024).default(64),
    maxActors: z
      .number()
      .int()
      .min(100)
      .optional()
      .describe('runtime.maxActors (live actors before passivation)'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    nodeFlags: z.string().default('').describe('Extra node flags for the Parley processes, space separated'),
  })
  .strict();

export const CeilingSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Measure the raw JetStream ceiling for the same writes per event'),
    events: z.number().int().min(1000).default(50_000),
    seconds: z.number().positive().default(40),
  })
  .strict();

export const PEER_NAMES = ['bullmq-ordered', 'bullmq', 'restate'] as const;
export const PeerNameSchema = z.enum(PEER_NAMES);

export const ScenarioSchema = z
  .object({
    name: z.string().optional().describe('Default: the file name without .yaml'),
    description: z.string().default('').describe('One line for the report'),
    conversations: z.number().int().min(1).max(1_000_000).describe('Distinct conversations'),
    eventsPerConversation: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(20)
      .describe('The supply: events the phases may draw, round-robin over the conversations'),
    mix: MixSchema.default(MixSchema.parse({})),
    journey: JourneySchema.default(JourneySchema.parse({})),
    inactivity: InactivitySchema.default(InactivitySchema.parse({})),
    warmup: z
      .number()
      .int()
      .min(0)
      .default(2000)
      .describe('Unmeasured events first, on their own conversations'),
    phases: z.array(PhaseSchema).min(1).describe('Run in order; a phase ends early when the supply runs out'),
    ingest: IngestSchema.default(IngestSchema.parse({})),
    platform: PlatformSchema.default(PlatformSchema.parse({})),
    parley: ParleySchema.default(ParleySchema.parse({})),
    ceiling: CeilingSchema.default(CeilingSchema.parse({})),
    latencyPhase: z
      .string()
      .optional()
      .describe(
        'The phase whose ack -> send percentiles are the headline latency (default: the first phase paced at a share of the headline, else the headline)',
      ),
    drainSeconds: z
      .number()
      .positive()
      .default(120)
      .describe('Longest wait for the sends once the load is in'),
    stallSeconds: z.number().positive().default(15).describe('A drain with no new send for this long ends'),
    peers: z
      .array(PeerNameSchema)
      .default([])
      .describe('Peers run by default (--peers overrides): bullmq-ordered, bullmq, restate'),
  })
  .strict();

export type Scenario = z.infer<typeof ScenarioSchema> & { name: string };
export type Phase = z.infer<typeof PhaseSchema>;
export type PeerName = z.infer<typeof PeerNameSchema>;

/** Parses a scenario's text; a ConfigError lists every issue with file, line and key. */
export function parseScenario(file: string, text: string): Scenario {
  const { source, issues } = parseYamlSource(file, text);
  if (issues.length) throw new ConfigError(`invalid scenario ${file}`, issues);
  const parsed = ScenarioSchema.safeParse(source.doc.toJS());
  if (!parsed.success) throw new ConfigError(`invalid scenario ${file}`, zodIssues(source, parsed.error));
  const s = parsed.data;
  const shares = s.mix.optOut + s.mix.risky + s.mix.buyers + s.mix.quiet;
  if (shares > 1)
    throw new ConfigError(`invalid scenario ${file}`, [
      { path: `${file} mix`, message: `optOut + risky + buyers + quiet is ${shares}, more than 1` },
    ]);
  const h = s.phases.findIndex((p) => p.headline);
  const head = h >= 0 ? h : s.phases.length - 1;
  const early = s.phases.findIndex(
    (p, k) => typeof p.rate === 'object' && 'ofHeadline' in p.rate && k <= head,
  );
  if (early >= 0)
    throw new ConfigError(`invalid scenario ${file}`, [
      { path: `${file} phases.${early}.rate`, message: 'ofHeadline needs the headline phase before it' },
    ]);
  if (s.latencyPhase !== undefined && !s.phases.some((p) => p.name === s.latencyPhase))
    throw new ConfigError(`invalid scenario ${file}`, [
      { path: `${file} latencyPhase`, message: `no phase is named "${s.latencyPhase}"` },
    ]);
  if (s.phases.filter((p) => p.headline).length > 1)
    throw new ConfigError(`invalid scenario ${file}`, [
      { path: `${file} phases`, message: 'at most one phase can be the headline' },
    ]);
  return { ...s, name: s.name ?? basename(file).replace(/\.ya?ml$/, '') };
}

export function loadScenario(file: string): Scenario {
  return parseScenario(file, readFileSync(file, 'utf8'));
}

/** The latency phase: the one named, else the first paced at a share of the headline, else the headline. */
export function latencyPhase(s: Scenario): number {
  if (s.latencyPhase !== undefined) return s.phases.findIndex((p) => p.name === s.latencyPhase);
  const i = s.phases.findIndex((p) => typeof p.rate === 'object' && 'ofHeadline' in p.rate);
  return i >= 0 ? i : headlinePhase(s);
}

/** The headline phase: the one marked, else the last. */
export function headlinePhase(s: Scenario): number {
  const i = s.phases.findIndex((p) => p.headline);
  return i >= 0 ? i : s.phases.length - 1;
}
