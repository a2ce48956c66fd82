/**
 * The ingest API over real HTTP (listen on port 0) against a real nats-server: what lands in EVENTS, what
 * does not, deduplication, tenant isolation, auth, replay protection across processes, the conversation
 * view and the operations endpoints.
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { headers as natsHeaders } from '@nats-io/transport-node';
import t from 'tap';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import { signedHeaders } from '../../src/http/auth.js';
import { type Parley, start } from '../../src/main.js';
import { partitionFor } from '../../src/nats/server-config.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_SECRET, ACME_TOKEN, ADMIN_TOKEN, GLOBEX_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, ROOT, readState, streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 8;
const nats = await startTestNats(t, { partitions: PARTITIONS });
const auth = httpTestConfig();
const config = testConfig(t, nats.url, PARTITIONS, { tenants: auth.tenants, admin: auth.admin });

async function startRoles(roles: Array<'actors' | 'ingest'>, provision = true): Promise<Parley> {
  const parley = await start(config, {
    roles,
    logger: createLogger({ level: 'silent' }),
    provision,
    drainMs: 5000,
  });
  t.teardown(() => parley.stop());
  return parley;
}

const parley = await startRoles(['actors', 'ingest']);
const base = parley.ingest!.url;
const h = await connect(t, nats.url);

const event = (over: Record<string, unknown> = {}) => ({
  id: 'e1',
  type: 'message.received',
  conversation: 'c42',
  occurredAt: '2026-01-01T00:00:00Z',
  attributes: { text: 'hi' },
  ...over,
});

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, asserted field by field
type Json = any;

async function post(
  body: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${ACME_TOKEN}` },
  url = base,
) {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, Json> };
}

async function get(path: string, token?: string) {
  const res = await fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  let body: Json = text;
  try {
    body = JSON.parse(text);
  } catch {
    // metrics are text
  }
  return { status: res.status, body };
}

const events = () => streamCount(h, 'EVENTS');

t.test('ingest-api - an accepted event is stored on its partition with readable headers', async (t) => {
  const before = await events();
  const res = await post(event({ id: 'first', conversation: 'c-store' }));
  t.equal(res.status, 202);
  t.same(res.body, { results: [{ id: 'first', seq: before + 1, duplicate: false }] });
  t.equal(await events(), before + 1);
  const msg = await h.jsm.streams.getMessage('EVENTS', { seq: res.body.results[0].seq });
  t.equal(msg?.subject, `evt.${partitionFor('acme', 'c-store', PARTITIONS)}.acme.c-store.message.received`);
  t.match(
    msg?.header.get('Nats-Msg-Id'),
    /^acme:first:[A-Za-z0-9_-]{16}$/,
    "dedupe key scoped by tenant, keyed with the deployment's secret",
  );
  t.equal(msg?.header.get('Parley-Tenant'), 'acme');
  t.equal(msg?.header.get('Parley-Conversation'), 'c-store');
  t.equal(msg?.header.get('Parley-Type'), 'message.received');
  t.equal(msg?.header.get('Content-Type'), 'application/msgpack');
  t.match(msg?.header.get('Parley-Trace-Id'), /^[0-9a-f]{32}$/);
  t.match(decodeMsgpack(msg!.data), {
    id: 'first',
    tenant: 'acme',
    conversation: 'c-store',
    attributes: { text: 'hi' },
  });
});

t.test(
  'ingest-api - every bad-input class gets its documented status, names the field, stores nothing',
  async (t) => {
    const before = await events();
    const cases: Array<[string, unknown, number, string, Record<string, string>?]> = [
      ['invalid JSON', '{"type":', 400, 'body'],
      ['not JSON', 'type=x', 415, 'Content-Type', { 'content-type': 'text/plain' }],
      ['body over 1 MiB', event({ attributes: { s: 'x'.repeat(1_100_000) } }), 413, 'body'],
      ['dot in conversation', event({ conversation: 'c.42' }), 400, 'conversation'],
      ['> in conversation', event({ conversation: 'c>' }), 400, 'conversation'],
      ['space in conversation', event({ conversation: 'c 42' }), 400, 'conversation'],
      ['* in type', event({ type: 'message.*' }), 400, 'type'],
      ['empty type token', event({ type: 'message..received' }), 400, 'type'],
      ['id with whitespace', event({ id: 'a\tb' }), 400, 'id'],
      ['missing type', event({ type: undefined }), 400, 'type'],
      ['occurredAt not a time', event({ occurredAt: 'yesterday' }), 400, 'occurredAt'],
      [
        'occurredAt a day ahead',
        event({ occurredAt: new Date(Date.now() + 86_400_000).toISOString() }),
        400,
        'occurredAt',
      ],
      ['attributes not an object', event({ attributes: [1] }), 400, 'attributes'],
      [
        'attributes too deep',
        event({ attributes: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } }),
        400,
        'attributes.a.b.c.d.e.f.g.h',
      ],
      ['attribute string too long', event({ attributes: { s: 'x'.repeat(8193) } }), 400, 'attributes.s'],
      [
        'attributes too large',
        event({
          attributes: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(4000)])),
        }),
        400,
        'attributes',
      ],
      ['unknown field', event({ extra: true }), 400, 'extra'],
      [
        'one bad event in a batch',
        { events: [event({ id: 'ok-1' }), event({ id: 'ok-2', conversation: 'a.b' })] },
        400,
        'conversation',
      ],
      [
        'batch over 1000',
        { events: Array.from({ length: 1001 }, (_, i) => event({ id: `n${i}` })) },
        400,
        'events',
      ],
      ['empty batch', { events: [] }, 400, 'events'],
    ];
    for (const [name, body, status, field, extra] of cases) {
      const res = await post(body, { authorization: `Bearer ${ACME_TOKEN}`, ...extra });
      t.equal(res.status, status, `${name}: ${status}`);
      t.ok(
        res.body.error?.issues?.some((i: { field: string }) => i.field === field),
        `${name}: names ${field} (${JSON.stringify(res.body.error?.issues)?.slice(0, 200)})`,
      );
    }
    t.equal(await events(), before, 'EVENTS message count unchanged');
  },
);

t.test('ingest-api - a duplicate submission answers duplicate with the original sequence', async (t) => {
  const first = await post(event({ id: 'dup-1', conversation: 'c-dup' }));
  const again = await post(event({ id: 'dup-1', conversation: 'c-dup', attributes: { text: 'changed' } }));
  t.equal(again.status, 202);
  t.same(again.body.results, [{ id: 'dup-1', seq: first.body.results[0].seq, duplicate: true }]);

  const { id: _, ...noId } = event({ conversation: 'c-dup', attributes: { b: 2, a: 1 } });
  const derived = await post(noId);
  const derivedAgain = await post({ ...noId, attributes: { a: 1, b: 2 } }); // same facts, other key order
  t.match(derived.body.results[0], { id: /^dk_[0-9a-f]{32}$/, duplicate: false });
  t.same(
    derivedAgain.body.results[0],
    { ...derived.body.results[0], duplicate: true },
    'derived key deduplicates',
  );
  const laterBucket = await post({ ...noId, occurredAt: '2026-01-01T00:01:00Z' });
  t.equal(laterBucket.body.results[0].duplicate, false, 'the same facts a window later are a new event');

  const before = await events();
  const batch = await post({
    events: [event({ id: 'dup-1', conversation: 'c-dup' }), event({ id: 'dup-2', conversation: 'c-dup' })],
  });
  t.same(
    batch.body.results.map((r: { duplicate: boolean }) => r.duplicate),
    [true, false],
  );
  t.equal(await events(), before + 1, 'only the new one was stored');
});

t.test(
  'ingest-api - the same id from two tenants is two events; a token only writes its tenant',
  async (t) => {
    const a = await post(event({ id: 'shared-id', conversation: 'c-iso' }));
    const g = await post(event({ id: 'shared-id', conversation: 'c-iso' }), {
      authorization: `Bearer ${GLOBEX_TOKEN}`,
    });
    t.equal(g.status, 202);
    t.equal(g.body.results[0].duplicate, false, "globex's id does not collide with acme's");
    t.not(g.body.results[0].seq, a.body.results[0].seq);
    const msg = await h.jsm.streams.getMessage('EVENTS', { seq: g.body.results[0].seq });
    t.match(msg?.subject, /^evt\.\d+\.globex\.c-iso\./, 'stored under the tenant of the token');
    const before = await events();
    const foreign = await post(event({ id: 'x', tenant: 'acme' }), {
      authorization: `Bearer ${GLOBEX_TOKEN}`,
    });
    t.equal(foreign.status, 403);
    t.equal(foreign.body.error.code, 'TENANT_MISMATCH');
    t.equal(await events(), before);
  },
);

t.test(
  'ingest-api - auth: missing, wrong, admin token on ingest, tenant token on admin endpoints',
  async (t) => {
    const before = await events();
    const missing = await post(event(), {});
    t.equal(missing.status, 401);
    t.equal(missing.headers.get('www-authenticate'), 'Bearer realm="parley"');
    t.equal((await post(event(), { authorization: 'Bearer wrong-token' })).status, 401);
    t.equal((await post(event(), { authorization: `Bearer ${ADMIN_TOKEN}` })).status, 403);
    t.equal(await events(), before);

    const adminPath = '/v1/admin/tenants/acme/conversations/c42';
    t.equal((await get(adminPath)).status, 401);
    t.equal((await get(adminPath, 'wrong')).status, 401);
    t.equal((await get(adminPath, ACME_TOKEN)).status, 403, 'tenant token on an admin endpoint');
    t.equal((await get(adminPath, GLOBEX_TOKEN)).status, 403);
    t.not((await get(adminPath, ADMIN_TOKEN)).status, 403, 'the operator passes');
    t.equal((await get('/v1/conversations/c42')).status, 401);
  },
);

t.test('ingest-api - a signed request is accepted once, by whichever ingest process sees it', async (t) => {
  const other = await startRoles(['ingest'], false); // a second process on the same NATS
  const body = JSON.stringify(event({ id: 'signed-1', conversation: 'c-signed' }));
  const signed = signedHeaders('acme', ACME_SECRET, body, {
    id: 'msg_signed_1',
    timestampSeconds: Math.floor(Date.now() / 1000),
  });
  const ok = await post(body, signed);
  t.equal(ok.status, 202);
  const replay = await post(body, signed, other.ingest!.url);
  t.equal(replay.status, 401, 'replayed to another process');
  t.equal(replay.body.error.code, 'SIGNATURE_REPLAYED');
  t.equal((await post(body, signed)).body.error?.code, 'SIGNATURE_REPLAYED', 'and to the same one');
  const stale = signedHeaders('acme', ACME_SECRET, body, {
    id: 'msg_signed_2',
    timestampSeconds: Math.floor(Date.now() / 1000) - 600,
  });
  const expired = await post(body, stale);
  t.equal(expired.status, 401);
  t.equal(expired.body.error.code, 'SIGNATURE_EXPIRED');
  const kv = await h.kvm.open('parley-replay');
  const keys = await kv.keys('acme.>');
  let n = 0;
  for await (const _ of keys) n++;
  t.equal(n, 1, 'one claim recorded in the parley-replay bucket');
});

t.test(
  'ingest-api - a batch is stored in order and the conversation view shows state and trail',
  async (t) => {
    const batch = Array.from({ length: 20 }, (_, i) =>
      event({ id: `v${i}`, conversation: 'c-view', attributes: { n: i } }),
    );
    const res = await post({ events: batch });
    t.equal(res.status, 202);
    const seqs = res.body.results.map((r: { seq: number }) => r.seq);
    t.same(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'sequences follow the batch order',
    );
    await waitFor(
      'actor state',
      async () => ((await readState(h, 'acme', 'c-view'))?.state.events ?? 0) >= 20,
    );

    const hdrs = natsHeaders();
    hdrs.set('Content-Type', 'application/msgpack');
    await h.js.publish('audit.test-decision.acme.c-view', encode({ rule: 'echo', outcome: 'sent' }), {
      headers: hdrs,
    });
    const view = await get('/v1/conversations/c-view', ACME_TOKEN);
    t.equal(view.status, 200);
    t.equal(view.body.tenant, 'acme');
    t.equal(view.body.state.events, 20);
    t.equal(view.body.seq, seqs.at(-1));
    t.ok(Array.isArray(view.body.trail), 'trail is a list');
    const mine = view.body.trail.filter((e: { kind: string }) => e.kind === 'test-decision');
    t.same(
      mine.map((e: { record: unknown }) => e.record),
      [{ rule: 'echo', outcome: 'sent' }],
      'AUDIT record in the trail',
    );
    const approvals = view.body.trail.filter((e: { kind: string }) => e.kind === 'sent');
    t.ok(approvals.length >= 1, 'approved actions are in the trail, read from ACTIONS');
    t.match(approvals[0].record, { decision: 'sent', action: { rule: 'echo', channel: 'webhook' } });
    t.equal(
      (await get('/v1/conversations/c-view', GLOBEX_TOKEN)).status,
      404,
      'not visible to another tenant',
    );
    const admin = await get('/v1/admin/tenants/acme/conversations/c-view', ADMIN_TOKEN);
    t.equal(admin.status, 200);
    t.equal(admin.body.state.events, 20);
  },
);

t.test('ingest-api - readyz, healthz and metrics', async (t) => {
  t.same(await get('/healthz'), { status: 200, body: { status: 'ok' } });
  const ready = await waitFor('ready', async () => {
    const r = await get('/readyz');
    return r.status === 200 ? r : undefined;
  });
  t.same(
    ready.body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok]),
    [
      ['nats', true],
      ['streams', true],
      ['consumers', true],
      ['actors', true],
    ],
  );
  const metrics = await get('/metrics');
  t.match(metrics.body, /parley_ingest_events_total\{result="stored"\} \d+/);
  t.match(metrics.body, /parley_ingest_events_total\{result="duplicate"\} [1-9]/);
  t.match(
    metrics.body,
    /parley_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/v1\/events",status="202"\}/,
  );
  t.match(metrics.body, /parley_actor_events_total/, 'one registry for every role');
});

t.test('ingest-api - parley conversation show prints the same view as the API', async (t) => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PARLEY_CONFIG: '' },
    });
  const api = await get('/v1/conversations/c-view', ACME_TOKEN);
  const shown = cli('conversation', 'show', 'acme', 'c-view', '--nats-url', nats.url, '--json');
  t.equal(shown.status, 0, shown.stderr);
  t.same(JSON.parse(shown.stdout), api.body);
  const text = cli('conversation', 'show', 'acme', 'c-view', '--nats-url', nats.url);
  t.match(text.stdout, /^conversation acme\/c-view \(last applied EVENTS seq \d+\)/);
  t.match(text.stdout, /test-decision/);
  const missing = cli('conversation', 'show', 'acme', 'nobody', '--nats-url', nats.url);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /no conversation "nobody"/);
  t.equal(cli('conversation', 'show', 'acme', 'a.b', '--nats-url', nats.url).status, 2, 'usage error');
});
