/**
 * Safety operations for operators (admin credential): escalations (list, show, resolve), consent (get, set),
 * kill switches and pauses (pause, resume, list). Thin: the logic is in src/ops/safety-ops.ts, shared with
 * the CLI; this module maps HTTP to it.
 *   GET  /v1/escalations?tenant=&status=&limit=     GET /v1/escalations/:id
 *   POST /v1/escalations/:id/resolve { outcome: resume|close|reply, reply?: { text, channel? }, by?, note? }
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
import { NotFoundError } from '../errors.js';
import { zodToIssues } from '../ingest-body.js';

export interface SafetyRoutesOptions {
  store: SafetyStore;
  /** The configured tenants: a pause or resume scope naming another is refused (400). */
  tenants?: readonly string[];
}

function validated<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (err instanceof z.ZodError) throw new ValidationError('invalid request', zodToIssues(err));
    throw err;
  });
}

const admin = { config: { auth: 'admin' } } as const;

export function registerSafetyRoutes(app: FastifyInstance, o: SafetyRoutesOptions): void {
  const { store } = o;
  app.get('/v1/escalations', admin, async (req) =>
    validated(async () => ({ escalations: await listEscalations(store, req.query) })),
  );

  app.get<{ Params: { id: string } }>('/v1/escalations/:id', admin, async (req) => {
    const view = await validated(() => showEscalation(store, req.params.id));
    if (!view) throw new NotFoundError(`no escalation ${req.params.id}`);
    return view;
  });

  app.post<{ Params: { id: string } }>('/v1/escalations/:id/resolve', admin, async (req, reply) => {
    const view = await validated(() => showEscalation(store, req.params.id));
    if (!view) throw new NotFoundError(`no escalation ${req.params.id}`);
    const result = await validated(() => resolveEscalation(store, req.params.id, req.body ?? {}));
    reply.code(202);
    return result;
  });

  app.get<{ Params: { tenant: string; conversation: string } }>(
    '/v1/consent/:tenant/:conversation',
    admin,
    async (req) => validated(() => getConsent(store, req.params.tenant, req.params.conversation)),
  );

  app.put<{ Params: { tenant: string; conversation: string } }>(
    '/v1/consent/:tenant/:conversation',
    admin,
    async (req, reply) => {
      const result = await validated(() =>
        setConsent(store, req.params.tenant, req.params.conversation, req.body ?? {}),
      );
      reply.code(202);
      return result;
    },
  );

  const scopeOf = (body: unknown) => (body as { scope?: unknown } | undefined)?.scope;
  app.post('/v1/pause', admin, async (req) => {
    checkScopeTenant(scopeOf(req.body), o.tenants ?? []);
    return validated(() => pause(store, req.body ?? {}));
  });
  app.post('/v1/resume', admin, async (req) => {
    checkScopeTenant(scopeOf(req.body), o.tenants ?? []);
    return validated(() => resume(store, req.body ?? {}));
  });
  app.get('/v1/switches', admin, async () => ({ switches: await listSwitches(store) }));
}
