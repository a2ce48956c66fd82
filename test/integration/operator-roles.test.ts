/**
 * Operators and roles end to end: a real Parley (actors and ingest, each as its own least-privileged NATS user
 * on a real nats-server with the project's accounts) over real HTTP sockets, and the CLI as a child process.
 * Every role is refused what it does not grant (403 naming the role) and does what it grants, audited under
 * its own name; a tenant-scoped operator stays in its tenant; engine-owned event types are refused at the
 * HTTP door; a forged signed request is refused before its body is parsed.
 */

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { signedHeaders } from '../../src/http/auth.js';
import { type Parley, start } from '../../src/main.js';
import type { NATS_ROLES } from '../../src/nats/permissions.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startRoleUsersNats } from '../helpers/nats-server.js';
import { ROOT, streamCount, tempDir, testConfig, waitFor } from '../helpers/parley.js';
import { WEBHOOK_SECRET } from '../helpers/pipeline.js';

const PARTITIONS = 4;
const TOKENS = {
  viewer: 'op-viewer-token-0123456789',
  reviewer: 'op-reviewer-token-0123456789',
  operator: 'op-operator-token-0123456789',
  'rules-admin': 'op-rules-token-0123456789',
  scoped: 'op-scoped-token-0123456789',
} as const;
const OPERATORS = [
  { name: 'vera', token: TOKENS.viewer, roles: ['viewer'] },
  { name: 'rita', token: TOKENS.reviewer, roles: ['reviewer'] },
  { name: 'otto', token: TOKENS.operator, roles: ['operator'] },
  { name: 'rosa', token: TOKENS['rules-admin'], roles: ['rules-admin'] },
  { name: 'ann', token: TOKENS.scoped, roles: ['reviewer', 'operator'], tenants: ['acme'] },
];

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, asserted field by field
type Json = any;

const {
  url: natsUrl,
  passwords: PASSWORDS,
  admin,
} = await startRoleUsersNats(t, {
  partitions: PARTITIONS,
  label: 'roles-7d1e',
});

const auth = httpTestConfig();
const settings = { tenants: auth.tenants, operators: OPERATORS };
const configFor = (user: (typeof NATS_ROLES)[number]) =>
  testConfig(t, natsUrl, PARTITIONS, {
    nats: { url: natsUrl, user, pass: PASSWORDS[user] },
    ...settings,
  });
const silent = createLogger({ level: 'silent' });
const actors: Parley = await start(configFor('actors'), { roles: ['actors'], logger: silent, drainMs: 3000 });
t.teardown(() => actors.stop());
const ingest: Parley = await start(configFor('ingest'), { roles: ['ingest'], logger: silent, drainMs: 3000 });
t.teardown(() => ingest.stop());
const base = ingest.ingest!.url;

async function call(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

async function kvJson(bucket: string, key: string): Promise<Json> {
  const e = await (await admin.kvm.open(bucket)).get(key);
  return e?.length ? JSON.parse(new TextDecoder().decode(e.value)) : undefined;
}

async function lastAudit(subject: string): Promise<Json> {
  const m = await admin.jsm.streams.getMessage('AUDIT', { last_by_subj: subject });
  return m ? decodeMsgpack(m.data) : undefined;
}

t.test('operator-roles - pause and resume take the operator role, audited as the operator', async (t) => {
  for (const role of ['viewer', 'reviewer', 'rules-admin'] as const) {
    const refused = await call('POST', '/v1/pause', TOKENS[role], { scope: 'tenant:globex', by: 'mallory' });
    t.equal(refused.status, 403, `${role} cannot pause`);
    t.match(refused.body, { error: { code: 'MISSING_ROLE', message: /"operator" role/ } });
  }
  t.equal(await kvJson('parley-control', 'tenant.globex'), undefined, 'nothing was written');
  const paused = await call('POST', '/v1/pause', TOKENS.operator, { scope: 'tenant:globex', by: 'mallory' });
  t.equal(paused.status, 200, 'the ingest NATS user writes the switch key');
  t.match(await kvJson('parley-control', 'tenant.globex'), { mode: 'pause', by: 'otto' });
  const listed = await call('GET', '/v1/switches', TOKENS.viewer);
  t.match(listed, { status: 200, body: { switches: [{ key: 'tenant.globex', by: 'otto' }] } });
  t.equal((await call('POST', '/v1/resume', TOKENS.viewer, { scope: 'tenant:globex' })).status, 403);
  t.equal((await call('POST', '/v1/resume', TOKENS.operator, { scope: 'tenant:globex' })).status, 200);
  t.equal(await kvJson('parley-control', 'tenant.globex'), undefined, 'lifted');
  t.match(await lastAudit('audit.operator.globex._all'), { action: 'resume', by: 'otto' });

  const scoped = await call('POST', '/v1/pause', TOKENS.scoped, { scope: 'global' });
  t.equal(scoped.status, 403, 'a tenant-scoped operator cannot set a global switch');
  t.match(scoped.body, { error: { code: 'TENANT_NOT_IN_SCOPE' } });
  t.equal((await call('POST', '/v1/pause', TOKENS.scoped, { scope: 'tenant:globex' })).status, 403);
  t.equal((await call('POST', '/v1/pause', TOKENS.scoped, { scope: 'tenant:acme' })).status, 200);
  t.equal((await call('POST', '/v1/resume', TOKENS.scoped, { scope: 'tenant:acme' })).status, 200);
});

t.test(
  'operator-roles - consent takes the operator role; the actor applies it under the operator name',
  async (t) => {
    const refused = await call('PUT', '/v1/consent/acme/fan-c', TOKENS.reviewer, { dnd: true });
    t.match(refused, { status: 403, body: { error: { code: 'MISSING_ROLE', message: /"operator"/ } } });
    t.equal((await call('GET', '/v1/consent/acme/fan-c', TOKENS.viewer)).status, 200, 'viewer reads consent');
    const set = await call('PUT', '/v1/consent/acme/fan-c', TOKENS.operator, { dnd: true, by: 'mallory' });
    t.equal(set.status, 202);
    const stored = await admin.jsm.streams.getMessage('EVENTS', { seq: set.body.seq });
    t.match(decodeMsgpack(stored!.data), {
      type: 'admin.consent.updated',
      attributes: { dnd: true, by: 'otto' },
    });
    await waitFor(
      'the consent record',
      async () => (await kvJson('parley-consent', 'acme.fan-c'))?.dnd === true,
    );
    t.equal((await call('PUT', '/v1/consent/globex/fan-c', TOKENS.scoped, { dnd: false })).status, 403);
  },
);

t.test(
  'operator-roles - a real escalation: viewers read it, only a reviewer resolves it, by name',
  async (t) => {
    const sent = await call('POST', '/v1/events', ACME_TOKEN, {
      id: 'crisis-1',
      type: 'message.received',
      conversation: 'fan-esc',
      occurredAt: new Date().toISOString(),
      attributes: { text: 'honestly I want to end my life' },
    });
    t.equal(sent.status, 202);
    const [esc] = await waitFor('the escalation', async () => {
      const list = await call('GET', '/v1/escalations?tenant=acme', TOKENS.viewer);
      return list.body.escalations?.length ? list.body.escalations : undefined;
    });
    t.match(esc, { reason: 'crisis', status: 'open' });
    t.equal((await call('GET', `/v1/escalations/${esc.escalationId}`, TOKENS['rules-admin'])).status, 200);
    for (const role of ['viewer', 'operator', 'rules-admin'] as const) {
      const refused = await call('POST', `/v1/escalations/${esc.escalationId}/resolve`, TOKENS[role], {
        outcome: 'close',
      });
      t.match(
        refused,
        { status: 403, body: { error: { code: 'MISSING_ROLE', message: /"reviewer"/ } } },
        role,
      );
    }
    const resolved = await call('POST', `/v1/escalations/${esc.escalationId}/resolve`, TOKENS.reviewer, {
      outcome: 'close',
      by: 'mallory',
      note: 'handled by phone',
    });
    t.equal(resolved.status, 202);
    t.match(await lastAudit('audit.operator.acme.fan-esc'), { action: 'escalation.resolve', by: 'rita' });
    await waitFor(
      'closed',
      async () =>
        (await call('GET', `/v1/escalations/${esc.escalationId}`, TOKENS.viewer)).body.status === 'closed',
    );
  },
);

let raced: string | undefined;
t.test(
  'operator-roles - two reviewers resolve one escalation at once over the API: one wins, the other gets 409 naming the winner',
  async (t) => {
    const sent = await call('POST', '/v1/events', ACME_TOKEN, {
      id: 'crisis-race',
      type: 'message.received',
      conversation: 'fan-race',
      occurredAt: new Date().toISOString(),
      attributes: { text: 'i want to kill myself tonight' },
    });
    t.equal(sent.status, 202);
    const esc = await waitFor('the escalation', async () => {
      const list = await call('GET', '/v1/escalations?tenant=acme', TOKENS.viewer);
      return (list.body.escalations as Json[] | undefined)?.find((e) => e.conversation === 'fan-race');
    });
    raced = esc.escalationId as string;
    const [a, b] = await Promise.all([
      call('POST', `/v1/escalations/${raced}/resolve`, TOKENS.reviewer, { outcome: 'resume' }),
      call('POST', `/v1/escalations/${raced}/resolve`, TOKENS.scoped, { outcome: 'resume' }),
    ]);
    const statuses = [a.status, b.status].sort();
    t.same(statuses, [202, 409], 'exactly one resolution is accepted');
    const [won, lost, winner] = a.status === 202 ? [a, b, 'rita'] : [b, a, 'ann'];
    t.comment(`the loser was told: ${lost.body.error?.message}`);
    // Lost at the publish (the stream's dedupe names the winner), or after the actor applied the winner's.
    t.match(lost.body, {
      error: {
        code: 'ALREADY_RESOLVED',
        message: new RegExp(`resolved by ${winner} \\(resume\\)|is already resolved$`),
      },
    });
    t.equal(won.body.duplicate, false);
    // Only this conversation's resolutions: a resumed held action's outcome lands in EVENTS as well.
    t.equal(
      await streamCount(admin, 'EVENTS', 'evt.*.acme.fan-race.admin.escalation.resolved'),
      1,
      'one resolution event in EVENTS',
    );
    t.equal(await streamCount(admin, 'AUDIT', 'audit.operator.acme.fan-race'), 1, 'one operator record');
    const audit = await lastAudit('audit.operator.acme.fan-race');
    t.match(audit, { action: 'escalation.resolve', by: winner }, 'the winner’s');
  },
);

t.test('operator-roles - trigger takes rules-admin and is audited under its name', async (t) => {
  const body = { tenant: 'acme', conversation: 'fan-t', rule: 'echo' };
  for (const role of ['viewer', 'reviewer', 'operator'] as const) {
    const refused = await call('POST', '/v1/trigger', TOKENS[role], body);
    t.match(refused, { status: 403, body: { error: { code: 'MISSING_ROLE', message: /"rules-admin"/ } } });
  }
  t.equal((await call('POST', '/v1/trigger', TOKENS.scoped, body)).status, 403, 'no rules-admin role');
  const triggers = () => streamCount(admin, 'EVENTS', 'evt.*.acme.fan-t.admin.trigger');
  t.equal(await triggers(), 0, 'the refused triggers published nothing');
  const triggered = await call('POST', '/v1/trigger', TOKENS['rules-admin'], body);
  t.equal(triggered.status, 202);
  t.equal(await triggers(), 1, 'one admin.trigger event');
  await waitFor(
    'the audit record',
    async () => (await lastAudit('audit.operator.acme.fan-t'))?.by === 'rosa',
  );
});

t.test(
  'operator-roles - engine-owned types are refused at the HTTP door; forged signatures before parsing',
  async (t) => {
    const stored = () => streamCount(admin, 'EVENTS', 'evt.*.acme.>');
    const events = await stored();
    for (const type of ['action.sent', 'detector.inactive', 'timer.wake', 'admin.consent.updated', 'admin']) {
      const res = await call('POST', '/v1/events', ACME_TOKEN, {
        type,
        conversation: 'fan-r',
        occurredAt: new Date().toISOString(),
        attributes: { dnd: false },
      });
      t.match(res, { status: 400, body: { error: { issues: [{ path: 'type' }] } } }, `${type} refused`);
    }
    const hostile = `${'['.repeat(18_000)}${']'.repeat(18_000)}`;
    const forged = signedHeaders(
      'acme',
      `whsec_${Buffer.from('forged-secret-0123456789').toString('base64')}`,
      hostile,
      {
        id: 'forged-1',
        timestampSeconds: Math.floor(Date.now() / 1000),
      },
    );
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { ...forged, 'content-type': 'application/json' },
      body: hostile,
    });
    t.equal(res.status, 401);
    t.match(await res.json(), { error: { code: 'BAD_SIGNATURE' } });
    t.equal(await stored(), events, 'nothing reached EVENTS');
  },
);

t.test('operator-roles - the CLI checks the same roles and records the operator', async (t) => {
  const file = join(tempDir(t), 'parley.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      nats: { url: natsUrl, user: 'admin', pass: PASSWORDS.admin },
      partitions: PARTITIONS,
      ...settings,
      // The pushed rules send on webhook: a channel must serve them (nothing is sent in this test).
      tenants: {
        ...settings.tenants,
        acme: {
          ...settings.tenants.acme,
          channels: { webhook: { url: 'http://127.0.0.1:9/hooks/acme', secret: WEBHOOK_SECRET } },
        },
      },
    }),
  );
  const parley = async (args: string[], token?: string) => {
    const run = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args, '-c', file, '--json'],
      { cwd: ROOT, env: { ...process.env, PARLEY_OPERATOR_TOKEN: token ?? '' } },
    );
    return run.then(
      (r) => ({ code: 0, out: JSON.parse(r.stdout) as Json }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: JSON.parse(err.stdout) as Json }),
    );
  };
  const none = await parley(['pause', 'tenant:globex']);
  t.match(none, { code: 2, out: { error: { message: /needs an operator token with the "operator" role/ } } });
  const viewer = await parley(['pause', 'tenant:globex'], TOKENS.viewer);
  t.match(viewer, { code: 1, out: { error: { code: 'MISSING_ROLE', message: /"operator" role/ } } });
  t.equal(await kvJson('parley-control', 'tenant.globex'), undefined);
  const ok = await parley(['pause', 'tenant:globex'], TOKENS.operator);
  t.match(ok, { code: 0, out: { key: 'tenant.globex', by: 'otto' } });
  t.match(await parley(['resume', 'tenant:globex'], TOKENS.operator), { code: 0 });
  t.match(await parley(['switches'], TOKENS.viewer), { code: 0, out: [] });

  const push = await parley(['rules', 'push', join(ROOT, 'test/fixtures/rules')], TOKENS.operator);
  t.match(push, { code: 1, out: { error: { code: 'MISSING_ROLE', message: /"rules-admin"/ } } });
  t.match(await parley(['rules', 'push', join(ROOT, 'test/fixtures/rules')], TOKENS['rules-admin']), {
    code: 0,
  });
  const listed = await parley(['rules', 'list'], TOKENS.viewer);
  t.match(listed.out, [{ pushedBy: 'rosa', current: true }], 'rules list shows who pushed');
  t.match(await parley(['escalations', 'list', '--tenant', 'globex'], TOKENS.scoped), {
    code: 1,
    out: { error: { code: 'TENANT_NOT_IN_SCOPE' } },
  });
  // The escalation the API race resumed: the CLI is refused the same way (exclusive everywhere), whether or
  // not the actor has applied the resumption yet.
  t.ok(raced, 'the race test ran first');
  const again = await parley(['escalations', 'resolve', raced!, '--outcome', 'close'], TOKENS.reviewer);
  t.match(again, {
    code: 1,
    out: { error: { code: 'ALREADY_RESOLVED', message: /already resolved|resolved by/ } },
  });
});
