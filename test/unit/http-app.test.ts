import t from 'tap';
import { signedHeaders } from '../../src/http/auth.js';
import {
  ACME_SECRET,
  ACME_TOKEN,
  ADMIN_TOKEN,
  GLOBEX_SECRET,
  GLOBEX_TOKEN,
  testApp,
  unavailable,
} from '../helpers/http-fakes.js';

const event = (over: Record<string, unknown> = {}) => ({
  id: 'e1',
  type: 'message.received',
  conversation: 'c42',
  occurredAt: '2026-01-01T00:00:00Z',
  attributes: { text: 'hi' },
  ...over,
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test(
  'http-app - one event or a batch is accepted with 202 and { results: [{ id, seq, duplicate }] }',
  async (t) => {
    const { app, sink } = testApp(t);
    const one = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: bearer(ACME_TOKEN),
      payload: event(),
    });
    t.equal(one.statusCode, 202);
    t.same(one.json(), { results: [{ id: 'e1', seq: 1, duplicate: false }] });
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: bearer(ACME_TOKEN),
      payload: { events: [event({ id: 'e2' }), event({ id: 'e1' }), event({ id: undefined })] },
    });
    t.equal(batch.statusCode, 202);
    const results = batch.json().results;
    t.same(results.slice(0, 2), [
      { id: 'e2', seq: 2, duplicate: false },
      { id: 'e1', seq: 1, duplicate: true },
    ]);
    t.match(results[2], { id: /^dk_[0-9a-f]{32}$/, seq: 3, duplicate: false });
    t.same(
      sink.stored.map((s) => [s.msgId, s.envelope.tenant]),
      [
        ['acme:e1', 'acme'],
        ['acme:e2', 'acme'],
        [`acme:${results[2].id}`, 'acme'],
      ],
    );
    t.match(sink.stored[0]?.envelope.traceId, /^[0-9a-f]{32}$/, 'a trace id is assigned');
    const traced = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: {
        ...bearer(ACME_TOKEN),
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      payload: event({ id: 'e9' }),
    });
    t.equal(traced.statusCode, 202);
    t.equal(sink.stored.at(-1)?.envelope.traceId, '0af7651916cd43dd8448eb211c80319c', 'from traceparent');
  },
);

t.test(
  'http-app - every bad-input class gets its status, names the field and publishes nothing',
  async (t) => {
    const { app, sink } = testApp(t);
    const post = (
      payload: string | object,
      headers: Record<string, string> = { 'content-type': 'application/json' },
    ) =>
      app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...bearer(ACME_TOKEN), ...headers },
        payload,
      });
    const cases: Array<[string, Awaited<ReturnType<typeof post>>, number, string, number | undefined]> = [
      ['invalid JSON', await post('{"type":'), 400, 'body', undefined],
      [
        'invalid UTF-8',
        await post(
          Buffer.concat([
            Buffer.from(JSON.stringify(event({ attributes: { text: 'XX' } })).split('XX')[0]!),
            Buffer.from([0xc3, 0x28]),
            Buffer.from(JSON.stringify(event({ attributes: { text: 'XX' } })).split('XX')[1]!),
          ]) as unknown as string,
        ),
        400,
        'body',
        undefined,
      ],
      [
        'prototype key',
        await post(JSON.stringify(event()).replace('"text":"hi"', '"__proto__":{"admin":true}')),
        400,
        'attributes.__proto__',
        undefined,
      ],
      ['empty body', await post(''), 400, 'body', undefined],
      ['an array', await post('[]'), 400, 'body', undefined],
      ['not JSON', await post('type=x', { 'content-type': 'text/plain' }), 415, 'Content-Type', undefined],
      [
        'too large',
        await post(JSON.stringify(event({ attributes: { s: 'x'.repeat(1_100_000) } }))),
        413,
        'body',
        undefined,
      ],
      ['dot in conversation', await post(event({ conversation: 'c.1' })), 400, 'conversation', undefined],
      ['wildcard in type', await post(event({ type: 'message.*' })), 400, 'type', undefined],
      ['space in id', await post(event({ id: 'a b' })), 400, 'id', undefined],
      ['unknown field', await post(event({ occured_at: 'x' })), 400, 'occured_at', undefined],
      ['missing occurredAt', await post(event({ occurredAt: undefined })), 400, 'occurredAt', undefined],
      ['far future', await post(event({ occurredAt: '2999-01-01T00:00:00Z' })), 400, 'occurredAt', undefined],
      [
        'attributes nested 9 deep',
        await post(event({ attributes: { a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } } })),
        400,
        'attributes.a.b.c.d.e.f.g.h',
        undefined,
      ],
      [
        'long string',
        await post(event({ attributes: { s: 'x'.repeat(9000) } })),
        400,
        'attributes.s',
        undefined,
      ],
      [
        'bad event in a batch',
        await post({ events: [event(), event({ conversation: '' })] }),
        400,
        'conversation',
        1,
      ],
      [
        'batch of 1001',
        await post({ events: Array.from({ length: 1001 }, (_, i) => event({ id: `b${i}` })) }),
        400,
        'events',
        undefined,
      ],
      ['empty batch', await post({ events: [] }), 400, 'events', undefined],
    ];
    for (const [name, res, status, field, index] of cases) {
      t.equal(res.statusCode, status, `${name}: status`);
      const body = res.json();
      t.ok(
        body.error.issues?.some(
          (i: { field: string; index?: number }) => i.field === field && i.index === index,
        ),
        `${name}: names ${field}${index === undefined ? '' : ` at index ${index}`} (${JSON.stringify(body.error.issues)})`,
      );
    }
    t.equal(sink.calls, 0, 'nothing was published');
    t.equal(sink.stored.length, 0);
  },
);

t.test(
  'http-app - 401 without or with a bad credential, 403 with a good one that has no right',
  async (t) => {
    const { app, sink } = testApp(t);
    const post = (headers: Record<string, string>, payload: object = event()) =>
      app.inject({ method: 'POST', url: '/v1/events', headers, payload });
    const missing = await post({});
    t.equal(missing.statusCode, 401);
    t.equal(missing.json().error.code, 'MISSING_CREDENTIALS');
    t.equal(missing.headers['www-authenticate'], 'Bearer realm="parley"');
    const wrong = await post(bearer('not-a-token'));
    t.equal(wrong.statusCode, 401);
    t.equal(wrong.json().error.code, 'INVALID_CREDENTIALS');
    t.equal((await post({ authorization: `Basic ${ACME_TOKEN}` })).statusCode, 401, 'not a bearer token');
    t.equal((await post({ authorization: `Bearer sha256:${'0'.repeat(64)}` })).statusCode, 401);

    const admin = await post(bearer(ADMIN_TOKEN));
    t.equal(admin.statusCode, 403, 'an operator token carries no tenant to ingest for');
    t.equal(admin.json().error.code, 'FORBIDDEN');
    const foreign = await post(bearer(GLOBEX_TOKEN), event({ tenant: 'acme' }));
    t.equal(foreign.statusCode, 403, "globex's token cannot write acme's subjects");
    t.equal(foreign.json().error.code, 'TENANT_MISMATCH');
    t.equal(sink.calls, 0);

    const globex = await post(bearer(GLOBEX_TOKEN), event());
    t.equal(globex.statusCode, 202, 'a hashed token works');
    t.equal(sink.stored[0]?.envelope.tenant, 'globex', 'the tenant comes from the token');
    t.equal(sink.stored[0]?.msgId, 'globex:e1');

    const adminRoute = '/v1/admin/tenants/acme/conversations/c42';
    const asTenant = await app.inject({ method: 'GET', url: adminRoute, headers: bearer(ACME_TOKEN) });
    t.equal(asTenant.statusCode, 403, 'a tenant token on an admin endpoint');
    t.equal((await app.inject({ method: 'GET', url: adminRoute })).statusCode, 401);
    t.equal(
      (await app.inject({ method: 'GET', url: adminRoute, headers: bearer(ADMIN_TOKEN) })).statusCode,
      404,
    );
    const asAdmin = await app.inject({
      method: 'GET',
      url: '/v1/conversations/c42',
      headers: bearer(ADMIN_TOKEN),
    });
    t.equal(asAdmin.statusCode, 403, 'an operator token on a tenant route');
  },
);

t.test(
  'http-app - signed requests: accepted once, refused when expired, replayed or signed by another',
  async (t) => {
    let now = Date.UTC(2026, 0, 1, 0, 0, 0);
    const { app, sink } = testApp(t, { now: () => now });
    const body = JSON.stringify(event({ occurredAt: '2025-12-31T23:59:00Z' }));
    const send = (headers: Record<string, string>, payload = body) =>
      app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/json', ...headers },
        payload,
      });
    const headers = signedHeaders('acme', ACME_SECRET, body, { id: 'msg_1', timestampSeconds: now / 1000 });

    const ok = await send(headers);
    t.equal(ok.statusCode, 202);
    t.equal(sink.stored[0]?.envelope.tenant, 'acme');
    const replay = await send(headers);
    t.equal(replay.statusCode, 401);
    t.equal(replay.json().error.code, 'SIGNATURE_REPLAYED');

    const late = signedHeaders('acme', ACME_SECRET, body, {
      id: 'msg_2',
      timestampSeconds: now / 1000 - 301,
    });
    const expired = await send(late);
    t.equal(expired.statusCode, 401);
    t.equal(expired.json().error.code, 'SIGNATURE_EXPIRED');

    const tampered = await send(
      signedHeaders('acme', ACME_SECRET, body, { id: 'msg_3', timestampSeconds: now / 1000 }),
      body.replace('hi', 'ho'),
    );
    t.equal(tampered.json().error.code, 'BAD_SIGNATURE');
    const otherSecret = await send(
      signedHeaders('acme', GLOBEX_SECRET, body, { id: 'msg_4', timestampSeconds: now / 1000 }),
    );
    t.equal(otherSecret.statusCode, 401, "signed with globex's secret but claiming acme");
    t.equal(otherSecret.json().error.code, 'BAD_SIGNATURE');
    const unknown = await send(
      signedHeaders('nobody', ACME_SECRET, body, { id: 'msg_5', timestampSeconds: now / 1000 }),
    );
    t.equal(unknown.json().error.code, 'BAD_SIGNATURE', 'an unknown tenant looks like a bad signature');
    const { 'webhook-id': _, ...noId } = headers;
    t.equal((await send(noId)).json().error.code, 'MALFORMED_SIGNATURE');

    now += 1000; // a re-signed retry of the same message is a new request
    const retry = await send(
      signedHeaders('acme', ACME_SECRET, body, { id: 'msg_1', timestampSeconds: now / 1000 }),
    );
    t.equal(retry.statusCode, 202);
    t.same(retry.json().results[0], { id: 'e1', seq: 1, duplicate: true }, 'and its event is deduplicated');
    t.equal(sink.stored.length, 1);
  },
);

t.test('http-app - NATS unavailable answers 503 with Retry-After and no results', async (t) => {
  const { app, sink } = testApp(t);
  sink.failWith = unavailable();
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: bearer(ACME_TOKEN),
    payload: event(),
  });
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '2');
  t.equal(res.json().error.code, 'UNAVAILABLE');
  t.notOk('results' in res.json());
  const metrics = await (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /parley_ingest_rejected_requests_total\{reason="unavailable"\} 1/);
});

t.test('http-app - conversation view is tenant-scoped and validates its path', async (t) => {
  const { app, conversations } = testApp(t);
  conversations.states.set('acme.c42', { seq: 7, state: { events: 3 } });
  conversations.trails.set('acme.c42', [
    { seq: 1, kind: 'decision', time: '2026-01-01T00:00:00.000Z', record: { rule: 'echo' } },
  ]);
  const get = (url: string, token = ACME_TOKEN) => app.inject({ method: 'GET', url, headers: bearer(token) });
  const ok = await get('/v1/conversations/c42');
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), {
    tenant: 'acme',
    conversation: 'c42',
    seq: 7,
    state: { events: 3 },
    trail: [{ seq: 1, kind: 'decision', time: '2026-01-01T00:00:00.000Z', record: { rule: 'echo' } }],
  });
  t.equal((await get('/v1/conversations/c42', GLOBEX_TOKEN)).statusCode, 404, "globex does not see acme's");
  t.equal((await get('/v1/conversations/nope')).statusCode, 404);
  const bad = await get('/v1/conversations/c*42');
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.issues[0].field, 'conversation');
  const admin = await get('/v1/admin/tenants/acme/conversations/c42', ADMIN_TOKEN);
  t.equal(admin.statusCode, 200);
  t.equal(admin.json().seq, 7);
  t.equal((await get('/v1/admin/tenants/umbrella/conversations/c42', ADMIN_TOKEN)).statusCode, 404);
});

t.test('http-app - healthz, readyz, metrics and openapi.json', async (t) => {
  const { app, readiness } = testApp(t);
  const health = await app.inject({ method: 'GET', url: '/healthz' });
  t.same([health.statusCode, health.json()], [200, { status: 'ok' }]);
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  readiness.checks = [
    { name: 'nats', ok: true },
    { name: 'streams', ok: false, detail: 'missing: EVENTS' },
  ];
  const notReady = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(notReady.statusCode, 503);
  t.same(notReady.json().status, 'not_ready');

  await app.inject({ method: 'POST', url: '/v1/events', headers: bearer(ACME_TOKEN), payload: event() });
  await app.inject({ method: 'POST', url: '/v1/events', headers: bearer(ACME_TOKEN), payload: event() });
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.headers['content-type'], /text\/plain/);
  t.match(metrics.body, /parley_ingest_events_total\{result="stored"\} 1/);
  t.match(metrics.body, /parley_ingest_events_total\{result="duplicate"\} 1/, 'dedupe hits');
  t.match(
    metrics.body,
    /parley_http_request_duration_seconds_count\{method="POST",route="\/v1\/events",status="202"\} 2/,
  );

  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  t.equal(doc.openapi, '3.1.0');
  t.ok(doc.paths['/v1/events'].post.responses['202']);
  const body = doc.paths['/v1/events'].post.requestBody.content['application/json'].schema;
  const single = body.anyOf[0];
  t.same(single.required.sort(), ['conversation', 'occurredAt', 'type'], 'generated from the zod schema');
  t.equal(single.additionalProperties, false);
  t.match(single.properties.conversation.pattern, /A-Za-z0-9_-/);
  t.equal(body.anyOf[1].properties.events.maxItems, 1000);
  t.equal((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404);
});
