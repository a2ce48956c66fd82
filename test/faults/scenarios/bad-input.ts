/**
 * Bad input at every door (issue 10 item 3): each malformed request to POST /v1/events is answered with a clear
 * 4xx (a JSON error code, the field at fault where there is one) and nothing of it is stored; garbage published
 * straight to NATS is dead-lettered without fencing or pinning its partition. Afterwards every partition still
 * delivers: control events in conversations spread over all partitions are sent once, in order, and no
 * conversation touched only by bad input has state (nothing half-written).
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import { driveHttp, driveNats, natsEnvelope, plan, sentinels } from '../drivers.js';
import { type Harness, type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { until } from '../wait.js';

const AT = '2026-01-01T00:00:00Z';
const ok = (conversation: string, extra: Record<string, unknown> = {}) => ({
  type: 'message.received',
  conversation,
  occurredAt: AT,
  attributes: { n: 0 },
  ...extra,
});
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

interface HttpCase {
  name: string;
  body: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  status: number | number[];
  /** The error must name this field (issues[].field or path), when given. */
  field?: string;
}

const HTTP_CASES: HttpCase[] = [
  { name: 'malformed JSON', body: '{"type":"message.received","conversation":', status: 400 },
  { name: 'empty body', body: '', status: 400 },
  { name: 'JSON array', body: '[1,2,3]', status: 400 },
  {
    name: 'invalid UTF-8',
    body: Buffer.concat([
      Buffer.from(
        '{"type":"message.received","conversation":"bad-utf8","occurredAt":"2026-01-01T00:00:00Z","attributes":{"t":"',
      ),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}}'),
    ]),
    status: 400,
  },
  {
    name: 'body over 1 MiB',
    body: JSON.stringify(ok('big-body', { attributes: { s: 'x'.repeat(1_100_000) } })),
    status: 413,
  },
  {
    name: 'attributes over 32 KiB',
    body: JSON.stringify(
      ok('big-attrs', {
        attributes: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`k${i}`, 'x'.repeat(8000)])),
      }),
    ),
    status: 400,
    field: 'attributes',
  },
  {
    name: 'string over 8192',
    body: JSON.stringify(ok('long-string', { attributes: { s: 'y'.repeat(9000) } })),
    status: 400,
    field: 'attributes',
  },
  {
    name: '10k-deep nesting in attributes',
    body: `{"type":"message.received","conversation":"deep","occurredAt":"${AT}","attributes":${nested(10_000)}}`,
    status: [400, 413],
  },
  { name: '10k-deep nesting as the body', body: nested(10_000), status: [400, 413] },
  {
    name: 'attributes nested 9 deep',
    body: JSON.stringify(ok('deep9', { attributes: JSON.parse(nested(9)) })),
    status: 400,
    field: 'attributes',
  },
  ...['.', '*', '>', 'a.b', 'a*', 'a>b', 'café', 'a b', '', 'x'.repeat(129), '\u0000', '💥', '$JS'].map(
    (conversation): HttpCase => ({
      name: `conversation ${JSON.stringify(conversation.length > 20 ? `${conversation.slice(0, 5)}…(${conversation.length})` : conversation)}`,
      body: JSON.stringify(ok(conversation)),
      status: 400,
      field: 'conversation',
    }),
  ),
  ...[
    'message.>',
    'message.*',
    'message..x',
    '.message',
    'message received',
    'x'.repeat(129),
    'admin.resolve',
  ].map(
    (type): HttpCase => ({
      name: `type ${JSON.stringify(type.length > 20 ? `${type.slice(0, 5)}…` : type)}`,
      body: JSON.stringify(ok('bad-type', { type })),
      status: 400,
      field: 'type',
    }),
  ),
  ...['action.sent', 'action.failed', 'timer.fired', 'detector.inactive'].map(
    (type): HttpCase => ({
      name: `engine type ${type}`,
      body: JSON.stringify(ok('engine-type', { type })),
      status: [400, 403],
      field: 'type',
    }),
  ),
  ...['has space', 'x'.repeat(201), 'ünï', 'tab\there'].map(
    (id): HttpCase => ({
      name: `id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 5)}…` : id)}`,
      body: JSON.stringify(ok('bad-id', { id })),
      status: 400,
      field: 'id',
    }),
  ),
  { name: 'unknown field (typo)', body: JSON.stringify({ ...ok('typo'), occured_at: AT }), status: 400 },
  {
    name: 'occurredAt not a time',
    body: JSON.stringify(ok('bad-time', { occurredAt: 'yesterday' })),
    status: 400,
    field: 'occurredAt',
  },
  {
    name: 'occurredAt a day ahead',
    body: JSON.stringify(ok('future', { occurredAt: new Date(Date.now() + 86_400_000).toISOString() })),
    status: 400,
    field: 'occurredAt',
  },
  {
    name: 'another tenant in the body',
    body: JSON.stringify(ok('other-tenant', { tenant: 'globex' })),
    status: 403,
  },
  { name: 'text/plain', body: JSON.stringify(ok('plain')), contentType: 'text/plain', status: 415 },
  {
    name: 'batch over 1000',
    body: JSON.stringify({
      events: Array.from({ length: 1001 }, (_, i) => ok(`batch-big`, { id: `bb-${i}` })),
    }),
    status: 400,
  },
  {
    name: 'batch with one bad event (all or nothing)',
    body: JSON.stringify({ events: [ok('half-a', { id: 'half-a-0' }), ok('half.b', { id: 'half-b-0' })] }),
    status: 400,
    field: 'conversation',
  },
  { name: 'no credential', body: JSON.stringify(ok('no-auth')), headers: { authorization: '' }, status: 401 },
];

async function post(h: Harness, c: HttpCase): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {
    'content-type': c.contentType ?? 'application/json',
    authorization: `Bearer ${TENANT_TOKEN}`,
    ...c.headers,
  };
  if (headers.authorization === '') delete headers.authorization;
  try {
    const res = await fetch(`${h.apiUrl()}/v1/events`, {
      method: 'POST',
      headers,
      body: c.body,
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { status: 0, text: String(err) };
  }
}

function judge(c: HttpCase, got: { status: number; text: string }): string | undefined {
  const want = Array.isArray(c.status) ? c.status : [c.status];
  if (!want.includes(got.status))
    return `${c.name}: HTTP ${got.status} (want ${want.join(' or ')}): ${got.text.slice(0, 200)}`;
  let parsed: { error?: { code?: unknown; issues?: Array<{ field?: unknown; path?: unknown }> } };
  try {
    parsed = JSON.parse(got.text);
  } catch {
    return `${c.name}: HTTP ${got.status} without a JSON error body: ${got.text.slice(0, 120)}`;
  }
  if (typeof parsed.error?.code !== 'string') return `${c.name}: no error.code in ${got.text.slice(0, 200)}`;
  if (c.field) {
    const named = (parsed.error.issues ?? []).some(
      (i) =>
        i.field === c.field ||
        String(i.path ?? '')
          .split('.')
          .includes(c.field!),
    );
    if (!named) return `${c.name}: the error does not name "${c.field}": ${got.text.slice(0, 300)}`;
  }
  return undefined;
}

/** Raw messages on ingest subjects that the actors must dead-letter (never apply, never fence for). */
function natsGarbage(): Array<{ name: string; subject: string; data: Uint8Array | string; msgId?: string }> {
  const env = (conversation: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      schema: 1,
      id: `${conversation}-x`,
      type: 'message.received',
      tenant: TENANT,
      conversation,
      occurredAt: AT,
      attributes: { n: 0 },
      ...extra,
    });
  return [
    {
      name: 'random bytes',
      subject: `ingest.${TENANT}.g-bytes.message.received`,
      data: new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37]),
    },
    { name: 'empty body', subject: `ingest.${TENANT}.g-empty.message.received`, data: new Uint8Array() },
    { name: 'JSON array', subject: `ingest.${TENANT}.g-array.message.received`, data: '[1,2,3]' },
    // Not garbage: a body published straight to NATS may omit tenant, conversation and type (the subject
    // supplies them) and occurredAt (the stream time is used); see README, "The event envelope".
    {
      name: 'msgpack number',
      subject: `ingest.${TENANT}.g-number.message.received`,
      data: new Uint8Array([0x2a]),
    },
    {
      name: '5000-level nested attributes',
      subject: `ingest.${TENANT}.g-deep.message.received`,
      data: `{"schema":1,"id":"g-deep-x","type":"message.received","tenant":"${TENANT}","conversation":"g-deep","occurredAt":"${AT}","attributes":${nested(5000)}}`,
    },
    {
      name: '900 KB attributes',
      subject: `ingest.${TENANT}.g-huge.message.received`,
      data: env('g-huge', { attributes: { s: 'z'.repeat(900_000) } }),
    },
    {
      name: 'body tenant differs from subject',
      subject: `ingest.${TENANT}.g-tenant.message.received`,
      data: env('g-tenant', { tenant: 'globex' }),
    },
    {
      name: 'body conversation differs from subject',
      subject: `ingest.${TENANT}.g-conv.message.received`,
      data: env('g-other'),
    },
    { name: 'non-ASCII subject token', subject: `ingest.${TENANT}.café.message.received`, data: env('café') },
    // An engine-owned type (action.sent, detector.*, timer.*, admin.*) from a producer is refused by the
    // producer's NATS permissions (test/integration/nats-permissions.test.ts); this harness connects without
    // authentication, where nothing can tell a producer's publish from the engine's own.
    {
      name: 'unknown tenant',
      subject: 'ingest.nobody.g-nobody.message.received',
      data: env('g-nobody', { tenant: 'nobody' }),
    },
  ];
}

export const scenario: Scenario = {
  name: 'bad-input',
  description:
    'malformed, oversized, deep, hostile HTTP requests and NATS garbage; then every partition still delivers',
  tags: ['fast', 'input'],
  timeoutMs: 150_000,
  run: () =>
    withHarness({}, async (h) => {
      const failures: string[] = [];
      for (const c of HTTP_CASES) {
        const problem = judge(c, await post(h, c));
        if (problem) failures.push(problem);
      }

      const nc = await h.nc();
      const garbage = natsGarbage();
      for (const g of garbage) {
        const hdrs = natsHeaders();
        hdrs.set('Content-Type', typeof g.data === 'string' ? 'application/json' : 'application/msgpack');
        nc.publish(g.subject, g.data, { headers: hdrs });
      }
      // A producer-set Nats-Msg-Id naming another event's key must not suppress that event.
      const spoof = natsHeaders();
      spoof.set('Content-Type', 'application/json');
      spoof.set('Nats-Msg-Id', `${TENANT}:victim-e0`);
      await nc.flush();

      // Control traffic after the garbage: 24 conversations (every partition of 8, several times), over
      // both paths, plus the spoof and its victim.
      const load = plan({ tenant: TENANT, conversations: 24, perConversation: 5 });
      await driveNats(nc, load.slice(0, 12), h.recorder, { msgId: 'scoped' });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load.slice(12), h.recorder);
      const spoofer = plan({ tenant: TENANT, conversations: 1, perConversation: 1, prefix: 'spoofer' });
      const js = (await import('@nats-io/jetstream')).jetstream(nc);
      const ack = await js.publish(
        `ingest.${TENANT}.spoofer0.message.received`,
        JSON.stringify(natsEnvelope(spoofer[0]![0]!)),
        { headers: spoof },
      );
      h.recorder.acked.push({
        tenant: TENANT,
        conversation: 'spoofer0',
        id: 'spoofer0-e0',
        n: 0,
        ackedAt: Date.now(),
        path: 'nats',
        duplicate: ack.duplicate,
      });
      const victim = plan({ tenant: TENANT, conversations: 1, perConversation: 1, prefix: 'victim' }).map(
        (evs) => evs.map((e) => ({ ...e, id: 'victim-e0' })),
      );
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, victim, h.recorder);
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(60_000);

      // Every garbage message reaches a fate: the DLQ (with its reason) — bounded wait.
      const expected = garbage.length;
      const dlq = await until(
        'garbage dead-lettered',
        async () => {
          const n = await h.streamMessages('DLQ');
          return n >= expected ? n : undefined;
        },
        15_000,
      ).catch(async () => h.streamMessages('DLQ'));
      if (dlq < expected) failures.push(`DLQ holds ${dlq} message(s) after ${expected} garbage publishes`);
      h.faults = HTTP_CASES.length + garbage.length + 1;
      return h.result({ redeliveryIsViolation: true, failures });
    }),
};
