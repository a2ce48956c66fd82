/**
 * POST /v1/trigger: a trusted caller (admin) starts a rule or a journey for a conversation directly. It is
 * event-sourced like everything else: an `admin.trigger` event goes into EVENTS (so it is ordered with the
 * conversation's other events, replayable and deduplicated by its id), the actor runs the named rule's
 * actions or (re)starts the journey, and the request itself is recorded in AUDIT as an operator action.
 */
import { z } from 'zod';
import { type EventEnvelope, SCHEMA_VERSION, TokenSchema } from '../contracts/envelope.js';
import { ValidationError } from '../errors/app-error.js';
import { ADMIN_TRIGGER_TYPE } from './engine.js';
import type { RuleSet } from './rule-set.js';

export const TriggerRequestSchema = z
  .object({
    conversation: TokenSchema,
    rule: TokenSchema.optional(),
    journey: TokenSchema.optional(),
    attributes: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Passed on the event (/event/attributes)'),
    id: z.string().min(1).max(200).optional().describe('Idempotency key; default derived from the request'),
    reason: z.string().max(500).optional(),
  })
  .strict()
  .refine((r) => (r.rule === undefined) !== (r.journey === undefined), {
    message: 'give exactly one of rule or journey',
    path: ['rule'],
  });

export const TriggerResponseSchema = z.object({ id: z.string(), seq: z.number(), duplicate: z.boolean() });

export type TriggerRequest = z.input<typeof TriggerRequestSchema>;
export type TriggerResponse = z.infer<typeof TriggerResponseSchema>;

export interface TriggerDeps {
  rules: RuleSet;
  /** Publishes the event into EVENTS (ingest subject), deduplicated by its id. */
  publishEvent(event: EventEnvelope): Promise<{ seq: number; duplicate: boolean }>;
  /** Records the operator action in AUDIT. */
  audit(record: Record<string, unknown>): Promise<void>;
  now?: () => number;
}

export async function triggerRequest(
  deps: TriggerDeps,
  tenant: string,
  actor: string,
  body: unknown,
): Promise<TriggerResponse> {
  const req = TriggerRequestSchema.parse(body);
  if (req.rule && !deps.rules.rules.some((r) => r.id === req.rule))
    throw new ValidationError('unknown rule', [
      { path: 'rule', message: `no rule "${req.rule}" in ${deps.rules.version}` },
    ]);
  if (req.journey && !deps.rules.journeys.has(req.journey))
    throw new ValidationError('unknown journey', [
      { path: 'journey', message: `no journey "${req.journey}" in ${deps.rules.version}` },
    ]);
  const now = (deps.now ?? Date.now)();
  const id =
    req.id ?? `trigger.${tenant}.${req.conversation}.${req.rule ?? req.journey}.${Math.floor(now / 60_000)}`;
  const event: EventEnvelope = {
    schema: SCHEMA_VERSION,
    id,
    type: ADMIN_TRIGGER_TYPE,
    tenant,
    conversation: req.conversation,
    occurredAt: new Date(now).toISOString(),
    attributes: {
      ...req.attributes,
      ...(req.rule ? { rule: req.rule } : { journey: req.journey }),
      by: actor,
    },
  };
  const result = await deps.publishEvent(event);
  await deps.audit({
    kind: 'operator',
    action: 'trigger',
    by: actor,
    tenant,
    conversation: req.conversation,
    ...(req.rule ? { rule: req.rule } : { journey: req.journey }),
    ...(req.reason ? { reason: req.reason } : {}),
    eventId: id,
    seq: result.seq,
    duplicate: result.duplicate,
    rulesVersion: deps.rules.version,
    at: event.occurredAt,
  });
  return { id, seq: result.seq, duplicate: result.duplicate };
}
