/**
 * POST /v1/evaluate: what the current rules would decide for a conversation and a hypothetical event, with
 * no side effects. The conversation's stored state (profile, journeys in flight, timers) is the starting
 * point; the event is applied in the simulator (nothing published, nothing stored); the answer lists the
 * decisions with their path (rule, or journey and step, variant, rule set version), the detector signals
 * and journey steps it would set off, whether the safety gate let anything through (`allowed`), and what it
 * stopped (`blocked`: each action with the guard that blocked or held it).
 */
import { z } from 'zod';
import type { SafetyGate } from '../contracts/conversation/gate.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import { EventTypeSchema, SCHEMA_VERSION, TokenSchema } from '../contracts/envelope.js';
import type { RuleSet } from './rule-set.js';
import { Simulator } from './simulator.js';

export const EvaluateRequestSchema = z
  .object({
    conversation: TokenSchema,
    event: z
      .object({
        type: EventTypeSchema,
        attributes: z.record(z.string(), z.unknown()).default({}),
        occurredAt: z.iso.datetime({ offset: true }).optional().describe('Default: now'),
      })
      .strict(),
  })
  .strict();

const DecisionSchema = z.object({
  rule: z.string(),
  journey: z.string().optional(),
  step: z.string().optional(),
  variant: z.string().optional(),
  channel: z.string(),
  template: z.string(),
  variables: z.record(z.string(), z.unknown()),
  rulesVersion: z.string(),
  eventType: z.string(),
});

const BlockedSchema = z.object({
  rule: z.string(),
  channel: z.string(),
  template: z.string(),
  decision: z.enum(['blocked', 'held']).describe('blocked: dropped for good; held: waits for a human'),
  reason: z
    .string()
    .describe('The deciding guard: dnd, quiet-hours, escalated, frequency-cap, killed:<key>, …'),
  guards: z.array(z.unknown()).describe("Every guard's verdict as the gate recorded it"),
});

export const EvaluateResponseSchema = z.object({
  conversation: z.string(),
  rulesVersion: z.string(),
  allowed: z.boolean().describe('At least one action would be sent'),
  decisions: z.array(DecisionSchema).describe('Actions the gate would let through'),
  blocked: z
    .array(BlockedSchema)
    .describe('Actions the rules decided but the safety gate would stop, with the guard that did'),
  signals: z.array(z.object({ type: z.string(), attributes: z.record(z.string(), z.unknown()) })),
  journeys: z.array(z.object({ journey: z.string(), path: z.array(z.string()), outcome: z.string() })),
});

export type EvaluateRequest = z.input<typeof EvaluateRequestSchema>;
export type EvaluateResponse = z.infer<typeof EvaluateResponseSchema>;

export interface EvaluateDeps {
  rules: RuleSet;
  /** The conversation's stored state, if it has one. */
  loadState(tenant: string, conversation: string): Promise<ConversationState | undefined>;
  gate?: SafetyGate;
  now?: () => number;
}

export async function evaluateRequest(
  deps: EvaluateDeps,
  tenant: string,
  body: unknown,
): Promise<EvaluateResponse> {
  const req = EvaluateRequestSchema.parse(body);
  const now = req.event.occurredAt ? Date.parse(req.event.occurredAt) : (deps.now ?? Date.now)();
  const sim = new Simulator(deps.rules, deps.gate ? { gate: deps.gate } : {});
  const stored = await deps.loadState(tenant, req.conversation);
  if (stored) sim.seed(stored);
  const decisions = sim.apply(
    {
      schema: SCHEMA_VERSION,
      id: `evaluate.${tenant}.${req.conversation}.${now}`,
      type: req.event.type,
      tenant,
      conversation: req.conversation,
      occurredAt: new Date(now).toISOString(),
      attributes: req.event.attributes,
    },
    now,
  );
  return {
    conversation: req.conversation,
    rulesVersion: deps.rules.version,
    allowed: decisions.length > 0,
    decisions: decisions.map((d) => ({
      rule: d.rule,
      ...(d.journey ? { journey: d.journey, step: d.step } : {}),
      ...(d.variant ? { variant: d.variant } : {}),
      channel: d.channel,
      template: d.template,
      variables: d.variables,
      rulesVersion: d.rulesVersion,
      eventType: d.eventType,
    })),
    blocked: sim.blocked.map((b) => ({
      rule: b.rule,
      channel: b.channel,
      template: b.template,
      decision: b.decision,
      reason: b.reason,
      guards: b.guards,
    })),
    signals: sim.signals.map((s) => ({ type: s.type, attributes: s.attributes })),
    journeys: sim.journeySteps.map((j) => ({ journey: j.journey, path: j.path, outcome: j.outcome })),
  };
}
