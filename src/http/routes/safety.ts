/**
 * Safety operations for operators: escalations (list, show: viewer; resolve: reviewer), consent (get: viewer;
 * set: operator), kill switches and pauses (list: viewer; pause, resume: operator), each limited to the
 * operator's tenants (a global scope needs an unscoped operator). What is audited as `by` is the
 * authenticated operator's name; a `by` in the body is ignored. Thin: the logic is in src/ops/safety-ops.ts, shared with
 * the CLI; this module maps HTTP to it and declares the schemas (validated, and in /openapi.json).
 *   GET  /v1/escalations?tenant=&status=&limit=     GET /v1/escalations/:id
 *   POST /v1/escalations/:id/resolve { outcome: resume|close|reply, reply?: { text, channel? }, by?, note? }
 *        exclusive: one resolution per escalation; resolved already, or by another operator at the same
 *        moment, is a 409 ALREADY_RESOLVED naming who (the same request retried is a 202 `duplicate`)
 *   GET  /v1/consent/:tenant/:conversation           PUT /v1/consent/:tenant/:conversation { dnd, channel? }
 *   POST /v1/pause { scope, mode?: pause|kill, reason? }   POST /v1/resume { scope }   GET /v1/switches
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../errors/app-error.js';
import {
  checkScopeTenant,
  getConsent,
  listEscalations,
  listSwitches,
  pause,
  resolveEscalation,
  resume,
  type SafetyStore,
  setConsent,
  showEscalation,
} from '../../ops/safety-ops.js';
import { parseScope } from '../../safety/control.js';
import {
  ConsentParamsSchema,
  ConsentSetSchema,
  ConsentViewSchema,
  EscalationListSchema,
  EscalationParamsSchema,
  EscalationViewSchema,
  ListEscalationsSchema,
  PauseSchema,
  PublishedSchema,
  ResolveBodySchema,
  ResolveResponseSchema,
  ResumeResponseSchema,
  ResumeSchema,
  SwitchListSchema,
  SwitchSchema,
} from '../admin-schemas.js';
import { nameTheResolver } from '../conversation-view.js';
import { NotFoundError } from '../errors.js';
import { zodToIssues } from '../ingest-body.js';
import { errorResponses, jsonResponse } from '../openapi.js';
import { inScope } from '../operators.js';
import type { ConversationReader } from '../ports.js';
import { operatorOf } from '../request-auth.js';

export interface SafetyRoutesOptions {
  store: SafetyStore;
  /** The configured tenants: a pause or resume scope naming another is refused (400). */
  tenants?: readonly string[];
  /** Conversation state, to name who resolved an escalation in the 409 a later resolution gets. */
  conversations?: ConversationReader;
}

/** The tenant a switch scope is limited to, or null for one that spans tenants (global, rule:<r>, …). */
function scopeTenant(scopeText: unknown): string | null {
  if (typeof scopeText !== 'string') return null;
  const scope = parseScope(scopeText);
  return 'tenant' in scope && scope.tenant !== undefined ? scope.tenant : null;
}

/** The body with `by` set to the operator (whatever the client wrote there). */
function audited(body: unknown, by: string): Record<string, unknown> {
  return { ...((body as Record<string, unknown> | undefined) ?? {}), by };
}

function validated<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof z.ZodError) throw new ValidationError('invalid request', zodToIssues(err));
    throw err;
  });
}

const config = { auth: 'viewer' } as const;
const adminErrors = errorResponses(400, 401, 403, 503);

export function registerSafetyRoutes(app: FastifyInstance, o: SafetyRoutesOptions): void {
  const { store } = o;
  const esc = ['escalations'];
  app.get(
    '/v1/escalations',
    {
      config,
      schema: {
        summary: 'Escalations, most urgent first (default: the open ones)',
        tags: esc,
        querystring: ListEscalationsSchema,
        response: { 200: jsonResponse('Escalations', EscalationListSchema), ...adminErrors },
      },
    },
    async (req) => {
      const tenant = (req.query as { tenant?: string } | undefined)?.tenant;
      const op = operatorOf(req, 'viewer', tenant);
      return validated(async () => ({
        escalations: await listEscalations(store, req.query, (v) => inScope(op, v.tenant)),
      }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/escalations/:id',
    {
      config,
      schema: {
        summary: 'One escalation: reason, evidence, labels, suggested next step, status',
        tags: esc,
        params: EscalationParamsSchema,
        response: {
          200: jsonResponse('The escalation', EscalationViewSchema),
          ...errorResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (req) => {
      const view = await validated(() => showEscalation(store, req.params.id));
      if (!view) throw new NotFoundError(`no escalation ${req.params.id}`);
      operatorOf(req, 'viewer', view.tenant);
      return view;
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/escalations/:id/resolve',
    {
      config: { auth: 'reviewer' },
      schema: {
        summary: 'Resolve: resume automation (held actions re-checked and sent), close it, or reply',
        tags: esc,
        params: EscalationParamsSchema,
        body: ResolveBodySchema,
        response: {
          202: jsonResponse(
            'The resolution event was published (duplicate: this same request was already accepted)',
            ResolveResponseSchema,
          ),
          ...errorResponses(400, 401, 403, 404, 409, 503),
        },
      },
    },
    async (req, reply) => {
      const view = await validated(() => showEscalation(store, req.params.id));
      if (!view) throw new NotFoundError(`no escalation ${req.params.id}`);
      const op = operatorOf(req, 'reviewer', view.tenant);
      const { expectStatus, ...body } = (req.body ?? {}) as { expectStatus?: 'open' | 'closed' };
      const result = await validated(() =>
        resolveEscalation(store, req.params.id, audited(body, op.name), { expectStatus }),
      ).catch((err: unknown) =>
        o.conversations ? nameTheResolver(err, o.conversations, view) : Promise.reject(err),
      );
      reply.code(202);
      return result;
    },
  );

  const consent = ['consent'];
  app.get<{ Params: { tenant: string; conversation: string } }>(
    '/v1/consent/:tenant/:conversation',
    {
      config,
      schema: {
        summary: "A fan's consent record (do-not-disturb, per channel)",
        tags: consent,
        params: ConsentParamsSchema,
        response: { 200: jsonResponse('The consent record', ConsentViewSchema), ...adminErrors },
      },
    },
    async (req) => {
      operatorOf(req, 'viewer', req.params.tenant);
      return validated(() => getConsent(store, req.params.tenant, req.params.conversation));
    },
  );

  app.put<{ Params: { tenant: string; conversation: string } }>(
    '/v1/consent/:tenant/:conversation',
    {
      config: { auth: 'operator' },
      schema: {
        summary: 'Put a fan on do-not-disturb, or allow them again (applied in order by the actor)',
        tags: consent,
        params: ConsentParamsSchema,
        body: ConsentSetSchema,
        response: { 202: jsonResponse('The consent event was published', PublishedSchema), ...adminErrors },
      },
    },
    async (req, reply) => {
      const op = operatorOf(req, 'operator', req.params.tenant);
      const result = await validated(() =>
        setConsent(store, req.params.tenant, req.params.conversation, audited(req.body, op.name)),
      );
      reply.code(202);
      return result;
    },
  );

  const switches = ['switches'];
  const scopeOf = (body: unknown) => (body as { scope?: unknown } | undefined)?.scope;
  app.post(
    '/v1/pause',
    {
      config: { auth: 'operator' },
      schema: {
        summary: 'Pause (hold) or kill (drop) sends at a scope, in every process within a second',
        tags: switches,
        body: PauseSchema,
        response: { 200: jsonResponse('The switch now in force', SwitchSchema), ...adminErrors },
      },
    },
    async (req) => {
      const scope = scopeOf(req.body);
      const op = operatorOf(req, 'operator', scopeTenant(scope));
      checkScopeTenant(scope, o.tenants ?? []);
      return validated(() => pause(store, audited(req.body, op.name)));
    },
  );
  app.post(
    '/v1/resume',
    {
      config: { auth: 'operator' },
      schema: {
        summary: 'Lift a pause or kill switch; held actions are sent again',
        tags: switches,
        body: ResumeSchema,
        response: { 200: jsonResponse('What was lifted', ResumeResponseSchema), ...adminErrors },
      },
    },
    async (req) => {
      const scope = scopeOf(req.body);
      const op = operatorOf(req, 'operator', scopeTenant(scope));
      checkScopeTenant(scope, o.tenants ?? []);
      return validated(() => resume(store, audited(req.body, op.name)));
    },
  );
  app.get(
    '/v1/switches',
    {
      config,
      schema: {
        summary: 'Kill switches and pauses in force',
        tags: switches,
        response: { 200: jsonResponse('The switches', SwitchListSchema), ...adminErrors },
      },
    },
    async (req) => {
      const op = operatorOf(req, 'viewer');
      const all = await listSwitches(store);
      return { switches: all.filter((s) => inScope(op, scopeTenant(s.scope) ?? undefined)) };
    },
  );
}
