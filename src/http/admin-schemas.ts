/**
 * Request and response shapes of the operator routes (escalations, consent, switches, DLQ) and of
 * evaluate/trigger, as zod schemas: the routes declare them, the validator enforces the request ones, and
 * /openapi.json is generated from them (src/http/openapi.ts). Request schemas are the ones the operations
 * themselves parse with (src/ops, src/rules), so the document and the checks cannot drift apart.
 */
import { z } from 'zod';
import { TokenSchema } from '../envelope/envelope.js';
import { ConsentSetSchema, ListEscalationsSchema, PauseSchema, ResumeSchema } from '../ops/safety-ops.js';
import { EvaluateRequestSchema, EvaluateResponseSchema } from '../rules/evaluate.js';
import { TriggerResponseSchema } from '../rules/trigger.js';
import { ResolutionSchema } from '../safety/escalation.js';

export {
  ConsentSetSchema,
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  ListEscalationsSchema,
  PauseSchema,
  ResumeSchema,
  TriggerResponseSchema,
};

export const EscalationParamsSchema = z.object({
  id: z.string().min(1).describe('<tenant>.<conversation>.<seq>, as listed'),
});

const resolution = ResolutionSchema.shape;
export const ResolveBodySchema = z
  .object({
    outcome: resolution.outcome,
    by: resolution.by,
    note: resolution.note,
    reply: resolution.reply,
    expectStatus: z
      .enum(['open', 'closed'])
      .optional()
      .describe(
        'Refused (409) unless the escalation is in this status now: the status the operator saw, so one ' +
          'another operator closed meanwhile is not reopened by a resume or reply meant for the open one',
      ),
  })
  .strict()
  .describe('How to resolve it: resume, close, or reply (outcome reply needs reply.text)');

export const EscalationViewSchema = z.object({
  escalationId: z.string(),
  tenant: z.string(),
  conversation: z.string(),
  reason: z.string().describe('crisis, abuse, revenue-objection, low-confidence, …'),
  priority: z.string().describe('urgent, high, normal or low'),
  status: z.enum(['open', 'closed', 'resolved']),
  at: z.string(),
  updates: z.number().int().describe('Later records that raised or refreshed it'),
  evidence: z.record(z.string(), z.unknown()),
  suggestedNext: z.string().optional(),
  seq: z.number().int().describe('ESCALATIONS stream sequence'),
});

export const EscalationListSchema = z.object({ escalations: z.array(EscalationViewSchema) });

export const PublishedSchema = z.object({
  seq: z.number().int().describe('EVENTS sequence of the admin event'),
  duplicate: z.boolean(),
});

export const ResolveResponseSchema = PublishedSchema.extend({
  escalationId: z.string(),
  outcome: z.string(),
});

export const ConsentParamsSchema = z.object({ tenant: TokenSchema, conversation: TokenSchema });

export const ConsentViewSchema = z.object({
  tenant: z.string(),
  conversation: z.string(),
  dnd: z.boolean(),
  channels: z.record(z.string(), z.boolean()).describe('Per-channel do-not-disturb'),
  source: z.string().describe('opt-out, operator, … or none'),
  updatedAt: z.string().optional(),
});

export const SwitchSchema = z.object({
  key: z.string().describe('Key in the parley-control bucket'),
  mode: z.enum(['pause', 'kill']),
  scope: z.string(),
  at: z.string(),
  reason: z.string().optional(),
  by: z.string().optional(),
});

export const SwitchListSchema = z.object({ switches: z.array(SwitchSchema) });

export const ResumeResponseSchema = z.object({
  key: z.string(),
  scope: z.string(),
  was: z.unknown().optional().describe('The switch that was lifted; absent when nothing was paused'),
});

export const TriggerBodySchema = z
  .object({
    tenant: TokenSchema,
    conversation: TokenSchema,
    rule: TokenSchema.optional(),
    journey: TokenSchema.optional(),
    attributes: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Passed on the event (/event/attributes)'),
    id: z.string().min(1).max(200).optional().describe('Idempotency key; default derived from the request'),
    reason: z.string().max(500).optional(),
  })
  .describe('Exactly one of rule or journey');

export const DlqQuerySchema = z
  .object({
    channel: TokenSchema.optional().describe('webhook, email, platform-dm, … or events'),
    tenant: TokenSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const DlqParamsSchema = z.object({
  seq: z.coerce.number().int().min(1).describe('DLQ stream sequence, as listed'),
});

export const DeadLetterSchema = z.object({
  seq: z.number().int(),
  subject: z.string(),
  time: z.string(),
  kind: z.string().describe('action or event'),
  reason: z.string(),
  error: z.string().describe('The last error'),
  attempts: z.number().int(),
  channel: z.string().optional(),
  tenant: z.string().optional(),
  conversation: z.string().optional(),
  action: z.string().optional().describe('Action ID (kept on redrive: it cannot be delivered twice)'),
  rule: z.string().optional(),
  source: z.object({ stream: z.string(), seq: z.number().int(), subject: z.string() }).optional(),
  redrive: z.number().int().optional(),
  payload: z.unknown().optional().describe('The original message, decoded (show only)'),
});

export const DeadLetterListSchema = z.object({ deadLetters: z.array(DeadLetterSchema) });

export const RedriveResponseSchema = z.object({
  seq: z.number().int(),
  kind: z.string(),
  id: z.string(),
  subject: z.string(),
  duplicate: z.boolean(),
});
