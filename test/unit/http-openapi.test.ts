/**
 * http-openapi: /openapi.json is generated from the zod schemas the routes declare, and it lists every route
 * with a summary, its security and its responses (a route added without a schema fails here); the operator
 * DLQ routes answer over HTTP with admin auth.
 */
import t from 'tap';
import type { DeadLetterView, RedriveResult } from '../../src/connectors/dead-letters.js';
import type { DeadLetterOps } from '../../src/http/routes/dlq.js';
import type { SafetyStore } from '../../src/ops/safety-ops.js';
import { ACME_TOKEN, ADMIN_TOKEN, testApp } from '../helpers/http-fakes.js';

const letter: DeadLetterView = {
  seq: 5,
  subject: 'dlq.webhook.acme',
  time: '2026-01-01T00:00:00.000Z',
  kind: 'action',
  reason: 'exhausted',
  error: '503 from the receiver',
  attempts: 8,
  channel: 'webhook',
  tenant: 'acme',
  action: 'a1',
};

class FakeDeadLetters implements DeadLetterOps {
  redriven: Array<{ seq: number; by: string }> = [];
  filters: string[] = [];
  async list(filter: string): Promise<DeadLetterView[]> {
    this.filters.push(filter);
    return [letter];
  }
  async show(seq: number): Promise<DeadLetterView | undefined> {
    return seq === 5 ? { ...letter, payload: { id: 'a1' } } : undefined;
  }
  async redrive(seq: number, by: string): Promise<RedriveResult> {
    this.redriven.push({ seq, by });
    return { seq, kind: 'action', id: 'a1', subject: 'act.3.webhook.acme.c1', duplicate: false };
  }
}

const unused = () => {
  throw new Error('not used');
};
const safety = {
  control: {},
  consent: {},
  escalations: unused,
  publishEvent: unused,
  eventAt: unused,
  audit: unused,
  now: Date.now,
};

function fullApp(t: Parameters<typeof testApp>[0]) {
  const deadLetters = new FakeDeadLetters();
  const { app } = testApp(t, {
    deadLetters,
    safety: safety as unknown as SafetyStore,
    rules: { evaluate: unused, trigger: unused, tenants: ['acme'] },
  });
  // Added before the routes' plugin loads, so it sees every route the app declares.
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ method: m.toLowerCase(), url: r.url });
  });
  return { app, routes, deadLetters };
}

const openapiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

t.test(
  'http-openapi - every route is in the 3.1 document, with summary, security and responses',
  async (t) => {
    const { app, routes } = fullApp(t);
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      openapi: string;
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    t.equal(doc.openapi, '3.1.0');
    t.ok(routes.length >= 20, `${routes.length} routes declared`);
    for (const r of routes) {
      // The operator inbox (src/http/inbox): a browser page with a session cookie, not part of the API.
      if (r.url === '/inbox' || r.url.startsWith('/inbox/')) continue;
      const op = doc.paths[openapiPath(r.url)]?.[r.method] as
        | { summary?: string; security?: unknown; responses?: Record<string, { content?: unknown }> }
        | undefined;
      t.ok(op, `${r.method.toUpperCase()} ${r.url} is documented`);
      if (!op) continue;
      t.ok(op.summary, `${r.method.toUpperCase()} ${r.url} has a summary`);
      const ok = Object.entries(op.responses ?? {}).find(([code]) => code.startsWith('2'));
      t.ok(ok?.[1].content, `${r.method.toUpperCase()} ${r.url} documents its success response`);
      if (r.url.startsWith('/v1/'))
        t.ok(op.security, `${r.method.toUpperCase()} ${r.url} names its security`);
    }
    for (const [path, method] of [
      ['/v1/evaluate', 'post'],
      ['/v1/trigger', 'post'],
      ['/v1/escalations/{id}/resolve', 'post'],
      ['/v1/consent/{tenant}/{conversation}', 'put'],
      ['/v1/pause', 'post'],
      ['/v1/dlq/{seq}/redrive', 'post'],
    ] as const)
      t.ok(doc.paths[path]?.[method], `${method} ${path}`);
    const evaluate = doc.paths['/v1/evaluate']!.post as {
      requestBody: { content: { 'application/json': { schema: { required: string[] } } } };
      responses: Record<string, { content: { 'application/json': { schema: { properties: object } } } }>;
    };
    t.same(evaluate.requestBody.content['application/json'].schema.required.sort(), [
      'conversation',
      'event',
    ]);
    t.ok('blocked' in evaluate.responses['200']!.content['application/json'].schema.properties);
    const pause = doc.paths['/v1/pause']!.post as { security: unknown };
    t.same(pause.security, [{ bearer: [] }], 'operator routes take an operator bearer token');
  },
);

t.test('http-openapi - request schemas are enforced with the one 400 shape', async (t) => {
  const { app } = fullApp(t);
  const res = await app.inject({
    method: 'POST',
    url: '/v1/pause',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { scope: 'global', mode: 'bogus' },
  });
  t.equal(res.statusCode, 400);
  t.equal(res.json().error.code, 'VALIDATION_FAILED');
  t.equal(res.json().error.issues[0].field, 'mode');
});

t.test('http-openapi - DLQ list, show and redrive for operators', async (t) => {
  const { app, deadLetters } = fullApp(t);
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const list = await app.inject({
    method: 'GET',
    url: '/v1/dlq?channel=webhook&tenant=acme',
    headers: admin,
  });
  t.equal(list.statusCode, 200);
  t.same(
    list.json().deadLetters.map((d: DeadLetterView) => d.seq),
    [5],
  );
  t.same(deadLetters.filters, ['dlq.webhook.acme']);
  const show = await app.inject({ method: 'GET', url: '/v1/dlq/5', headers: admin });
  t.same([show.statusCode, show.json().payload], [200, { id: 'a1' }]);
  t.equal((await app.inject({ method: 'GET', url: '/v1/dlq/6', headers: admin })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/v1/dlq/x', headers: admin })).statusCode, 400);
  const redrive = await app.inject({
    method: 'POST',
    url: '/v1/dlq/5/redrive',
    headers: admin,
    payload: { by: 'ops-ann' },
  });
  t.equal(redrive.statusCode, 202);
  t.same(deadLetters.redriven, [{ seq: 5, by: 'admin' }], 'audited as the operator, not the body text');
  const tenant = await app.inject({
    method: 'GET',
    url: '/v1/dlq',
    headers: { authorization: `Bearer ${ACME_TOKEN}` },
  });
  t.equal(tenant.statusCode, 403, 'a tenant credential is not an operator');
  t.equal((await app.inject({ method: 'GET', url: '/v1/dlq' })).statusCode, 401);
});
