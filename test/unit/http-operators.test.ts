/**
 * Operators and roles (src/http/operators.ts) through the real app (buildApp, inject): every admin route
 * refuses each role it does not grant with a 403 naming the missing role, and lets each role it grants
 * through; tenant scope; the audited name is the operator's, never the body's `by`; admin.tokens is one
 * all-roles operator; signed requests are authenticated before their body is parsed; the signature
 * tolerance cannot outlive the replay claim.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { MAX_SIGNATURE_TOLERANCE_SECONDS, REPLAY_CLAIM_SECONDS } from '../../src/config/schema.js';
import type { DeadLetterView } from '../../src/connectors/dead-letters.js';
import type { EventEnvelope } from '../../src/contracts/envelope.js';
import { ConfigError } from '../../src/errors/app-error.js';
import { compileAuth, hashToken, resolveOperator, signedHeaders } from '../../src/http/auth.js';
import {
  ADMIN_OPERATOR,
  ADMIN_TOKENS_DEPRECATION,
  hasRole,
  type Operator,
  ROLES,
  type Role,
  requireRole,
} from '../../src/http/operators.js';
import type { DeadLetterOps } from '../../src/http/routes/dlq.js';
import type { EscalationMessage, SafetyStore } from '../../src/ops/safety-ops.js';
import { ACME_SECRET, ACME_TOKEN, ADMIN_TOKEN, httpTestConfig, testApp } from '../helpers/http-fakes.js';
import { ROOT } from '../helpers/parley.js';

const TOKENS: Record<string, string> = {
  'vera-viewer': 'tok-viewer-0123456789',
  'rita-reviewer': 'tok-reviewer-0123456789',
  'otto-operator': 'tok-operator-0123456789',
  'rosa-rules': 'tok-rules-0123456789',
  'ann-acme': 'tok-acme-scoped-0123456789',
};
const OPERATORS = [
  { name: 'vera-viewer', token: TOKENS['vera-viewer']!, roles: ['viewer'] },
  { name: 'rita-reviewer', token: hashToken(TOKENS['rita-reviewer']!), roles: ['reviewer'] },
  { name: 'otto-operator', token: TOKENS['otto-operator']!, roles: ['operator'] },
  { name: 'rosa-rules', token: TOKENS['rosa-rules']!, roles: ['rules-admin'] },
  {
    name: 'ann-acme',
    token: TOKENS['ann-acme']!,
    roles: ['reviewer', 'operator'],
    tenants: ['acme'],
  },
];
const SINGLE_ROLE: Record<Role, string> = {
  viewer: 'vera-viewer',
  reviewer: 'rita-reviewer',
  operator: 'otto-operator',
  'rules-admin': 'rosa-rules',
};

class MemoryStore implements SafetyStore {
  readonly escs: EscalationMessage[] = [];
  readonly kv = new Map<string, Record<string, unknown>>();
  readonly events: EventEnvelope[] = [];
  readonly audits: Array<{ tenant: string; record: Record<string, unknown> }> = [];
  async escalations(f: { tenant?: string }) {
    return this.escs.filter((e) => !f.tenant || e.tenant === f.tenant);
  }
  control = {
    get: async (k: string) => this.kv.get(k),
    put: async (k: string, v: Record<string, unknown>) => void this.kv.set(k, v),
    delete: async (k: string) => void this.kv.delete(k),
    list: async () => [...this.kv].map(([key, value]) => ({ key, value })),
  };
  consent = { get: async () => undefined };
  async publishEvent(e: EventEnvelope) {
    this.events.push(e);
    return { seq: this.events.length, duplicate: false };
  }
  async eventAt(seq: number) {
    return this.events[seq - 1];
  }
  async audit(_kind: string, tenant: string, _conversation: string, record: Record<string, unknown>) {
    this.audits.push({ tenant, record });
  }
  now() {
    return Date.UTC(2026, 0, 5, 12);
  }
  open(tenant: string, conversation: string, seq: number): string {
    const escalationId = `${tenant}.${conversation}.${seq}`;
    this.escs.push({
      seq: this.escs.length + 1,
      escalationId,
      tenant,
      conversation,
      reason: 'crisis',
      priority: 'urgent',
      evidence: {},
      at: '2026-01-05T11:00:00.000Z',
    } as EscalationMessage);
    this.kv.set(`escalation.${tenant}.${conversation}`, { escalationId, status: 'open', since: '' });
    return escalationId;
  }
}

class MemoryDeadLetters implements DeadLetterOps {
  readonly letters: DeadLetterView[] = [
    {
      seq: 1,
      subject: 'dlq.webhook.acme',
      time: '',
      kind: 'action',
      reason: 'x',
      error: '',
      attempts: 5,
      tenant: 'acme',
    },
    {
      seq: 2,
      subject: 'dlq.webhook.globex',
      time: '',
      kind: 'action',
      reason: 'x',
      error: '',
      attempts: 5,
      tenant: 'globex',
    },
  ];
  readonly redriven: Array<{ seq: number; by: string }> = [];
  async list(filter = 'dlq.*.*', limit = 1000) {
    const [, channel, tenant] = filter.split('.');
    return this.letters
      .filter((l) => {
        const [, c, tt] = l.subject.split('.');
        return (channel === '*' || c === channel) && (tenant === '*' || tt === tenant);
      })
      .slice(0, limit);
  }
  async show(seq: number) {
    return this.letters.find((l) => l.seq === seq);
  }
  async redrive(seq: number, by: string) {
    this.redriven.push({ seq, by });
    return { seq, kind: 'action', id: `a${seq}`, subject: 'act.0.webhook.acme.c1' } as never;
  }
}

function app(t: Parameters<typeof testApp>[0]) {
  const safety = new MemoryStore();
  const deadLetters = new MemoryDeadLetters();
  const { app } = testApp(t, {
    config: httpTestConfig({ operators: OPERATORS }),
    safety,
    deadLetters,
  });
  return { app, safety, deadLetters };
}

const bearer = (name: string) => ({ authorization: `Bearer ${TOKENS[name] ?? name}` });

t.test(
  'http-operators - the config: names unique, "admin" reserved, roles known, tokens shared by none',
  async (t) => {
    const load = (operators: unknown, extra: Record<string, unknown> = {}) =>
      loadConfig({ env: {}, cwd: '/nonexistent', overrides: { operators, ...extra } });
    t.equal(load(OPERATORS).config.operators.length, OPERATORS.length);
    const issues = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
        throw err;
      }
      return '';
    };
    t.match(
      issues(() => load([...OPERATORS, { ...OPERATORS[0], token: 'other-0123456789' }])),
      /operators\.5\.name.*unique/,
    );
    t.match(
      issues(() => load([{ name: 'admin', token: 'x-0123456789', roles: ['viewer'] }])),
      /operators\.0\.name.*admin/,
    );
    t.match(
      issues(() => load([{ name: 'x', token: 't-0123456789', roles: ['root'] }])),
      /operators\.0\.roles\.0/,
    );
    t.match(
      issues(() => load([{ name: 'x', token: 't-0123456789', roles: [] }])),
      /operators\.0\.roles/,
    );
    t.match(
      issues(() => load([{ name: 'has space', token: 't-0123456789', roles: ['viewer'] }])),
      /operators\.0\.name/,
    );
    t.throws(
      () => compileAuth(httpTestConfig({ operators: [{ name: 'x', token: ACME_TOKEN, roles: ['viewer'] }] })),
      /operators\.0\.token[\s\S]*also configured at tenants\.acme/,
      'a tenant token cannot also be an operator token',
    );
    t.throws(
      () =>
        compileAuth(httpTestConfig({ operators: [{ name: 'x', token: 'sha256:abc', roles: ['viewer'] }] })),
      /operators\.0\.token.*64 hex/,
    );
    t.same(load(OPERATORS).warnings, [], 'no deprecation without admin.tokens');
    t.same(load(OPERATORS, { admin: { tokens: [ADMIN_TOKEN] } }).warnings, [ADMIN_TOKENS_DEPRECATION]);
  },
);

t.test('http-operators - a token resolves to its operator, plain or hashed, in constant time', async (t) => {
  const auth = compileAuth(httpTestConfig({ operators: OPERATORS }));
  t.same(resolveOperator(auth, TOKENS['vera-viewer']!), { name: 'vera-viewer', roles: ['viewer'] });
  t.same(resolveOperator(auth, TOKENS['rita-reviewer']!), { name: 'rita-reviewer', roles: ['reviewer'] });
  t.same(resolveOperator(auth, TOKENS['ann-acme']!), {
    name: 'ann-acme',
    roles: ['reviewer', 'operator'],
    tenants: ['acme'],
  });
  t.equal(resolveOperator(auth, ADMIN_TOKEN), ADMIN_OPERATOR, 'admin.tokens: the all-roles "admin"');
  t.same(ADMIN_OPERATOR.roles, ROLES);
  t.equal(resolveOperator(auth, ACME_TOKEN), undefined, 'a tenant token is no operator');
  t.equal(resolveOperator(auth, hashToken(TOKENS['rita-reviewer']!)), undefined, 'the hash is no token');
  t.equal(resolveOperator(auth, 'nope'), undefined);
});

t.test(
  'http-operators - requireRole: each role grants itself and viewer, nothing else; 403 names the role',
  async (t) => {
    for (const held of ROLES) {
      const op: Operator = { name: `only-${held}`, roles: [held] };
      for (const needed of ROLES) {
        const granted = needed === held || needed === 'viewer';
        t.equal(hasRole(op, needed), granted, `${held} ${granted ? 'grants' : 'does not grant'} ${needed}`);
        if (granted) t.equal(requireRole(op, needed), op);
        else
          t.throws(() => requireRole(op, needed), {
            code: 'MISSING_ROLE',
            message: new RegExp(`only-${held}" lacks the "${needed}" role`),
          });
      }
    }
    const scoped: Operator = { name: 'ann', roles: ['operator'], tenants: ['acme'] };
    t.equal(requireRole(scoped, 'operator', 'acme'), scoped);
    t.throws(() => requireRole(scoped, 'operator', 'globex'), {
      code: 'TENANT_NOT_IN_SCOPE',
      message: /not "globex"/,
    });
    t.throws(() => requireRole(scoped, 'operator', null), {
      code: 'TENANT_NOT_IN_SCOPE',
      message: /all tenants/,
    });
    t.equal(requireRole(ADMIN_OPERATOR, 'rules-admin', null), ADMIN_OPERATOR);
  },
);

interface Route {
  role: Role;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  payload?: Record<string, unknown>;
}

t.test(
  'http-operators - every admin route: 403 naming the role for each operator without it, through for each with it',
  async (t) => {
    const { app: a, safety } = app(t);
    const esc = safety.open('acme', 'c1', 7);
    const routes: Route[] = [
      { role: 'viewer', method: 'GET', url: '/v1/escalations' },
      { role: 'viewer', method: 'GET', url: `/v1/escalations/${esc}` },
      {
        role: 'reviewer',
        method: 'POST',
        url: `/v1/escalations/${esc}/resolve`,
        payload: { outcome: 'close' },
      },
      { role: 'viewer', method: 'GET', url: '/v1/consent/acme/c1' },
      { role: 'operator', method: 'PUT', url: '/v1/consent/acme/c1', payload: { dnd: true } },
      { role: 'operator', method: 'POST', url: '/v1/pause', payload: { scope: 'tenant:acme' } },
      { role: 'operator', method: 'POST', url: '/v1/resume', payload: { scope: 'tenant:acme' } },
      { role: 'viewer', method: 'GET', url: '/v1/switches' },
      { role: 'viewer', method: 'GET', url: '/v1/dlq' },
      { role: 'viewer', method: 'GET', url: '/v1/dlq/1' },
      { role: 'operator', method: 'POST', url: '/v1/dlq/1/redrive', payload: {} },
      { role: 'viewer', method: 'GET', url: '/v1/admin/tenants/acme/conversations/c1' },
    ];
    for (const route of routes) {
      for (const role of ROLES) {
        const name = SINGLE_ROLE[role];
        const res = await a.inject({
          method: route.method,
          url: route.url,
          headers: bearer(name),
          payload: route.payload,
        });
        const allowed = role === route.role || route.role === 'viewer';
        if (allowed)
          t.not(res.statusCode, 403, `${route.method} ${route.url}: ${role} passes (${res.statusCode})`);
        else {
          t.equal(res.statusCode, 403, `${route.method} ${route.url}: ${role} refused`);
          t.match(res.json(), {
            error: { code: 'MISSING_ROLE', message: new RegExp(`"${route.role}" role`) },
          });
        }
      }
      const tenant = await a.inject({
        method: route.method,
        url: route.url,
        headers: bearer(ACME_TOKEN),
        payload: route.payload,
      });
      t.equal(tenant.statusCode, 403, `${route.url}: a tenant token is refused`);
      const admin = await a.inject({
        method: route.method,
        url: route.url,
        headers: bearer(ADMIN_TOKEN),
        payload: route.payload,
      });
      t.not(admin.statusCode, 403, `${route.url}: the admin.tokens operator holds every role`);
      t.not(admin.statusCode, 401);
    }
  },
);

t.test('http-operators - the audited name is the authenticated operator, never the body', async (t) => {
  const { app: a, safety, deadLetters } = app(t);
  const esc = safety.open('acme', 'c2', 9);
  const resolved = await a.inject({
    method: 'POST',
    url: `/v1/escalations/${esc}/resolve`,
    headers: bearer('rita-reviewer'),
    payload: { outcome: 'resume', by: 'mallory' },
  });
  t.equal(resolved.statusCode, 202, resolved.body);
  t.match(safety.events.at(-1), { type: 'admin.escalation.resolved', attributes: { by: 'rita-reviewer' } });
  t.match(safety.audits.at(-1)?.record, { action: 'escalation.resolve', by: 'rita-reviewer' });
  await a.inject({
    method: 'POST',
    url: '/v1/pause',
    headers: bearer('otto-operator'),
    payload: { scope: 'global', by: 'mallory' },
  });
  t.match(safety.kv.get('global'), { by: 'otto-operator' });
  await a.inject({
    method: 'POST',
    url: '/v1/resume',
    headers: bearer('otto-operator'),
    payload: { scope: 'global' },
  });
  t.match(safety.audits.at(-1)?.record, { action: 'resume', by: 'otto-operator' });
  await a.inject({
    method: 'PUT',
    url: '/v1/consent/acme/c2',
    headers: bearer('otto-operator'),
    payload: { dnd: false, by: 'mallory' },
  });
  t.match(safety.events.at(-1), { type: 'admin.consent.updated', attributes: { by: 'otto-operator' } });
  await a.inject({
    method: 'POST',
    url: '/v1/dlq/1/redrive',
    headers: bearer('otto-operator'),
    payload: { by: 'mallory' },
  });
  t.same(deadLetters.redriven, [{ seq: 1, by: 'otto-operator' }]);
  t.notOk(JSON.stringify(safety.audits).includes('mallory'), 'the body text is recorded nowhere');
});

t.test(
  'http-operators - a scoped operator gets up to the limit of its own, whatever comes first',
  async (t) => {
    const { app: a, safety, deadLetters } = app(t);
    // Other tenants' escalations and dead letters come first (older), then acme's.
    safety.open('globex', 'g1', 1);
    safety.open('globex', 'g2', 2);
    const mine = safety.open('acme', 'c9', 3);
    const list = await a.inject({
      method: 'GET',
      url: '/v1/escalations?limit=1',
      headers: bearer('ann-acme'),
    });
    t.same(
      list.json().escalations.map((e: { escalationId: string }) => e.escalationId),
      [mine],
      'the limit counts only the escalations the operator may see',
    );
    deadLetters.letters.unshift({ ...deadLetters.letters[1]!, seq: 0 });
    const dlq = await a.inject({ method: 'GET', url: '/v1/dlq?limit=1', headers: bearer('ann-acme') });
    t.same(
      dlq.json().deadLetters.map((d: { tenant: string; seq: number }) => [d.tenant, d.seq]),
      [['acme', 1]],
      'the same for dead letters',
    );
  },
);

t.test('http-operators - a tenant-scoped operator acts on its tenants only and sees only them', async (t) => {
  const { app: a, safety } = app(t);
  const mine = safety.open('acme', 'c3', 1);
  const theirs = safety.open('globex', 'c3', 2);
  const list = await a.inject({ method: 'GET', url: '/v1/escalations', headers: bearer('ann-acme') });
  t.same(
    list.json().escalations.map((e: { escalationId: string }) => e.escalationId),
    [mine],
  );
  const other = await a.inject({
    method: 'GET',
    url: '/v1/escalations?tenant=globex',
    headers: bearer('ann-acme'),
  });
  t.match(other, { statusCode: 403 });
  t.match(other.json(), { error: { code: 'TENANT_NOT_IN_SCOPE' } });
  const post = (url: string, payload: Record<string, unknown>) =>
    a.inject({ method: 'POST', url, headers: bearer('ann-acme'), payload });
  t.equal((await post(`/v1/escalations/${mine}/resolve`, { outcome: 'close' })).statusCode, 202);
  t.equal((await post(`/v1/escalations/${theirs}/resolve`, { outcome: 'close' })).statusCode, 403);
  t.equal(
    (await a.inject({ method: 'GET', url: `/v1/escalations/${theirs}`, headers: bearer('ann-acme') }))
      .statusCode,
    403,
  );
  t.equal((await post('/v1/pause', { scope: 'tenant:acme' })).statusCode, 200);
  t.equal((await post('/v1/pause', { scope: 'conversation:acme/c3' })).statusCode, 200);
  for (const scope of ['global', 'tenant:globex', 'rule:echo', 'channel:dm', 'channel:globex/dm'])
    t.equal((await post('/v1/pause', { scope })).statusCode, 403, `pause ${scope} is outside acme`);
  safety.kv.set('tenant.globex', { mode: 'pause', scope: 'tenant:globex', at: '' });
  const switches = await a.inject({ method: 'GET', url: '/v1/switches', headers: bearer('ann-acme') });
  t.same(
    switches
      .json()
      .switches.map((s: { key: string }) => s.key)
      .sort(),
    ['tenant.acme', 'tenant.acme.conversation.c3'],
  );
  const put = (tenant: string) =>
    a.inject({
      method: 'PUT',
      url: `/v1/consent/${tenant}/c3`,
      headers: bearer('ann-acme'),
      payload: { dnd: true },
    });
  t.equal((await put('acme')).statusCode, 202);
  t.equal((await put('globex')).statusCode, 403);
  const dlq = await a.inject({ method: 'GET', url: '/v1/dlq', headers: bearer('ann-acme') });
  t.same(
    dlq.json().deadLetters.map((d: { tenant: string }) => d.tenant),
    ['acme'],
  );
  t.equal((await post('/v1/dlq/2/redrive', {})).statusCode, 403);
  t.equal(
    (
      await a.inject({
        method: 'GET',
        url: '/v1/admin/tenants/globex/conversations/c3',
        headers: bearer('ann-acme'),
      })
    ).statusCode,
    403,
  );
});

t.test(
  'http-operators - a signed request is authenticated over the raw bytes before the body is parsed',
  async (t) => {
    const { app: a, sink } = testApp(t);
    const now = Math.floor(Date.now() / 1000);
    // 36 KB of nesting: parsing it is what an unauthenticated client must not be able to cause.
    const hostile = `${'['.repeat(18_000)}${']'.repeat(18_000)}`;
    const forged = signedHeaders(
      'acme',
      `whsec_${Buffer.from('not-the-secret-0123456789').toString('base64')}`,
      hostile,
      {
        id: 'm1',
        timestampSeconds: now,
      },
    );
    const refused = await a.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...forged, 'content-type': 'application/json' },
      payload: hostile,
    });
    t.equal(refused.statusCode, 401, 'a bad signature is refused, not parsed (a parsed body would be 400)');
    t.match(refused.json(), { error: { code: 'BAD_SIGNATURE' } });
    const notJson = 'this is not JSON';
    const unsigned = await a.inject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        ...signedHeaders('acme', ACME_SECRET, notJson, { id: 'm2', timestampSeconds: now - 1000 }),
        'content-type': 'application/json',
      },
      payload: notJson,
    });
    t.equal(unsigned.statusCode, 401, 'an expired signature is refused before the body is read as JSON');
    t.match(unsigned.json(), { error: { code: 'SIGNATURE_EXPIRED' } });
    const valid = await a.inject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        ...signedHeaders('acme', ACME_SECRET, notJson, { id: 'm3', timestampSeconds: now }),
        'content-type': 'application/json',
      },
      payload: notJson,
    });
    t.equal(valid.statusCode, 400, 'a correctly signed body is then parsed (and this one is not JSON)');
    const body = JSON.stringify({
      type: 'message.received',
      conversation: 'c1',
      occurredAt: '2026-01-01T00:00:00Z',
    });
    const signed = signedHeaders('acme', ACME_SECRET, body, { id: 'm4', timestampSeconds: now });
    const headers = { ...signed, 'content-type': 'application/json' };
    t.equal((await a.inject({ method: 'POST', url: '/v1/events', headers, payload: body })).statusCode, 202);
    const replayed = await a.inject({ method: 'POST', url: '/v1/events', headers, payload: body });
    t.equal(replayed.statusCode, 401);
    t.match(replayed.json(), { error: { code: 'SIGNATURE_REPLAYED' } });
    t.equal(sink.stored.length, 1, 'only the valid signed event was stored');
  },
);

t.test('http-operators - signatureToleranceSeconds cannot outlive the replay claim', async (t) => {
  const buckets = JSON.parse(readFileSync(join(ROOT, 'streams/buckets.json'), 'utf8')) as Array<{
    bucket: string;
    max_age: number;
  }>;
  t.equal(
    buckets.find((b) => b.bucket === 'parley-replay')?.max_age,
    REPLAY_CLAIM_SECONDS * 1e9,
    'the schema bound is derived from the replay bucket max_age',
  );
  t.equal(MAX_SIGNATURE_TOLERANCE_SECONDS * 2, REPLAY_CLAIM_SECONDS, 'timestamp ± tolerance fits the claim');
  const load = (seconds: number) =>
    loadConfig({ env: {}, cwd: '/nonexistent', overrides: { http: { signatureToleranceSeconds: seconds } } });
  t.equal(
    load(MAX_SIGNATURE_TOLERANCE_SECONDS).config.http.signatureToleranceSeconds,
    MAX_SIGNATURE_TOLERANCE_SECONDS,
  );
  t.throws(() => load(MAX_SIGNATURE_TOLERANCE_SECONDS + 1), {
    name: 'ConfigError',
    issues: [{ path: 'http.signatureToleranceSeconds', message: /at most 300/ }],
  });
  t.throws(() => load(629), { name: 'ConfigError', issues: [{ path: 'http.signatureToleranceSeconds' }] });
});
