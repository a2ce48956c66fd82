/**
 * Rules API: POST /v1/evaluate (a tenant asks what the current rules would decide for a conversation and a
 * hypothetical event; no side effects) and POST /v1/trigger (an admin starts a rule or journey for a
 * conversation; published as an admin.trigger event and audited). The logic is in src/rules/evaluate.ts and
 * src/rules/trigger.ts; this module only maps HTTP to it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TokenSchema } from '../../envelope/envelope.js';
import { ValidationError } from '../../errors/app-error.js';
import { type EvaluateDeps, evaluateRequest } from '../../rules/evaluate.js';
import { type TriggerDeps, triggerRequest } from '../../rules/trigger.js';
import {
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  TriggerBodySchema,
  TriggerResponseSchema,
} from '../admin-schemas.js';
import { NotFoundError } from '../errors.js';
import { zodToIssues } from '../ingest-body.js';
import { docOnly, errorResponses, jsonResponse } from '../openapi.js';
import { operatorOf, tenantOf } from '../request-auth.js';

export interface RuleRoutesOptions {
  /** The current rules at call time (hot-reloaded). */
  evaluate: () => EvaluateDeps;
  trigger: () => TriggerDeps;
  tenants: readonly string[];
}

function validated<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof z.ZodError) throw new ValidationError('invalid request', zodToIssues(err));
    throw err;
  });
}

export function registerRuleRoutes(app: FastifyInstance, o: RuleRoutesOptions): void {
  const tags = ['rules'];
  const evaluateSchema = {
    summary:
      'What the current rules would decide for a conversation and a hypothetical event (no side effects)',
    description:
      'decisions: actions the safety gate would let through; blocked: actions it would stop, each with the ' +
      'guard that blocked or held it',
    tags,
    body: EvaluateRequestSchema,
    response: {
      200: jsonResponse('The decisions', EvaluateResponseSchema),
      ...errorResponses(400, 401, 403),
    },
  };
  const triggerSchema = {
    summary: 'Start a rule or journey for a conversation (operators; published as admin.trigger, audited)',
    tags,
    // The tenant is taken out here; the rest is validated by the trigger itself (exactly one of rule/journey).
    body: docOnly(TriggerBodySchema),
    response: {
      202: jsonResponse('Published into EVENTS', TriggerResponseSchema),
      ...errorResponses(400, 401, 403, 404),
    },
  };
  app.post('/v1/evaluate', { config: { auth: 'tenant' }, schema: evaluateSchema }, async (req) =>
    validated(() => evaluateRequest(o.evaluate(), tenantOf(req), req.body)),
  );

  app.post('/v1/trigger', { config: { auth: 'rules-admin' }, schema: triggerSchema }, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const tenant = TokenSchema.safeParse(body.tenant);
    if (!tenant.success)
      throw new ValidationError('invalid request', [{ path: 'tenant', message: 'a tenant id is required' }]);
    const op = operatorOf(req, 'rules-admin', tenant.data);
    if (!o.tenants.includes(tenant.data)) throw new NotFoundError(`no tenant "${tenant.data}"`);
    const { tenant: _, ...rest } = body;
    const result = await validated(() => triggerRequest(o.trigger(), tenant.data, op.name, rest));
    reply.code(202);
    return result;
  });
}
