import t from 'tap';
import { type Issue, ValidationError } from '../../src/errors/app-error.js';
import { ForbiddenError } from '../../src/http/errors.js';
import { canonicalJson, derivedEventId, ingestMsgId } from '../../src/http/idempotency.js';
import { createIngestParser } from '../../src/http/ingest-body.js';
import { DEFAULT_INGEST_LIMITS } from '../../src/http/schemas.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const parser = createIngestParser({
  limits: { ...DEFAULT_INGEST_LIMITS, maxAttributeDepth: 4, maxAttributesBytes: 2048, maxStringLength: 100 },
  maxBatch: 5,
  dedupeWindowSeconds: 60,
  now: () => NOW,
});

const good = {
  id: 'e1',
  type: 'message.received',
  conversation: 'c42',
  occurredAt: '2026-01-01T11:59:00Z',
  attributes: { text: 'hi' },
};

function issuesOf(body: unknown): Issue[] {
  try {
    parser.parse(body, 'acme', 'trace-1');
  } catch (err) {
    if (err instanceof ValidationError) return [...err.issues];
    throw err;
  }
  throw new Error('expected a ValidationError');
}

const paths = (body: unknown) => [...new Set(issuesOf(body).map((i) => i.path))];

t.test('http-ingest-body - a valid event becomes an envelope with a tenant-scoped dedupe key', async (t) => {
  const [p] = parser.parse(good, 'acme', 'trace-1');
  t.same(p?.envelope, {
    schema: 1,
    id: 'e1',
    type: 'message.received',
    tenant: 'acme',
    conversation: 'c42',
    occurredAt: '2026-01-01T11:59:00Z',
    attributes: { text: 'hi' },
    traceId: 'trace-1',
  });
  t.equal(p?.msgId, 'acme:e1');
  const batch = parser.parse({ events: [good, { ...good, id: 'e2', traceId: 'own' }] }, 'acme', 't');
  t.same(
    batch.map((b) => [b.envelope.id, b.envelope.traceId]),
    [
      ['e1', 't'],
      ['e2', 'own'],
    ],
    'batch order kept; a client trace id wins',
  );
  t.same(parser.parse({ ...good, attributes: undefined }, 'acme', 't')[0]?.envelope.attributes, {});
  t.same(parser.parse({ ...good, tenant: 'acme' }, 'acme', 't').length, 1, 'naming its own tenant is fine');
});

t.test(
  'http-ingest-body - identifiers that could reach a subject are refused, naming the field',
  async (t) => {
    for (const conversation of ['c.42', 'c*', 'c>', 'c 42', '', 'c\n42', 'ça', 'x'.repeat(129)]) {
      t.same(paths({ ...good, conversation }), ['conversation'], JSON.stringify(conversation));
    }
    for (const type of ['message..received', '.x', 'x.', 'x.*', 'x.>', 'a b', '']) {
      t.same(paths({ ...good, type }), ['type'], JSON.stringify(type));
    }
    t.same(parser.parse({ ...good, type: 'a.b-c.d_e.f' }, 'acme', 't').length, 1, 'dotted types are fine');
    for (const id of ['', 'has space', 'line\nbreak', 'x'.repeat(201), 'é']) {
      t.same(paths({ ...good, id }), ['id'], JSON.stringify(id));
    }
    t.same(paths({ ...good, tenant: 'acme.x' }), ['tenant']);
  },
);

t.test('http-ingest-body - missing, mistyped and unknown fields are all reported at once', async (t) => {
  const issues = issuesOf({ type: 5, occurredAt: 'yesterday', extra: 1, attributes: [] });
  t.same(issues.map((i) => i.path).sort(), ['attributes', 'conversation', 'extra', 'occurredAt', 'type']);
  t.equal(issues.find((i) => i.path === 'conversation')?.message, 'required');
  t.equal(issues.find((i) => i.path === 'extra')?.message, 'unknown field');
  for (const body of [null, [], 'text', 42]) t.same(paths(body), ['body'], JSON.stringify(body));
});

t.test(
  'http-ingest-body - occurredAt: offset required, future beyond the skew refused, old accepted',
  async (t) => {
    t.same(paths({ ...good, occurredAt: '2026-01-01T11:59:00' }), ['occurredAt'], 'no offset');
    t.same(paths({ ...good, occurredAt: '2026-01-01T12:11:00Z' }), ['occurredAt'], '11 minutes ahead');
    t.match(issuesOf({ ...good, occurredAt: '2026-01-01T12:11:00Z' })[0]?.message, /future/);
    t.equal(
      parser.parse({ ...good, occurredAt: '2026-01-01T12:09:00+00:00' }, 'acme', 't').length,
      1,
      '9 min ahead',
    );
    t.equal(
      parser.parse({ ...good, occurredAt: '2019-05-01T00:00:00-07:00' }, 'acme', 't').length,
      1,
      'backfill',
    );
  },
);

t.test('http-ingest-body - attribute limits name the value at fault', async (t) => {
  // The attributes object is level 1.
  t.same(
    paths({ ...good, attributes: { a: { b: { c: { d: { e: 1 } } } } } }),
    ['attributes.a.b.c.d'],
    'level 5',
  );
  t.equal(
    parser.parse({ ...good, attributes: { a: { b: { c: { d: 1 } } } } }, 'acme', 't').length,
    1,
    'level 4',
  );
  t.same(paths({ ...good, attributes: { list: [1, [2, [3, [4]]]] } }), ['attributes.list.1.1.1']);
  t.same(paths({ ...good, attributes: { bio: 'x'.repeat(101) } }), ['attributes.bio']);
  t.same(paths({ ...good, attributes: { ['k'.repeat(129)]: 1 } }), [`attributes.${'k'.repeat(129)}`]);
  const big = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(60)]));
  t.same(paths({ ...good, attributes: big }), ['attributes'], 'over 2048 bytes as JSON');
  t.match(issuesOf({ ...good, attributes: big })[0]?.message, /bytes/);
});

t.test('http-ingest-body - a batch is validated whole, with per-index errors', async (t) => {
  const issues = issuesOf({
    events: [good, { ...good, conversation: 'bad.id' }, good, { ...good, occurredAt: 'x', nope: true }],
  });
  t.same(
    issues.map((i) => i.path),
    ['events.1.conversation', 'events.3.occurredAt', 'events.3.nope'],
  );
  t.same(paths({ events: [] }), ['events'], 'empty batch');
  t.same(paths({ events: Array.from({ length: 6 }, () => good) }), ['events'], 'over maxBatch');
  t.same(paths({ events: 'x' }), ['events']);
  t.same(paths({ events: [good], other: 1 }), ['other']);
  t.same(paths({ events: [null] }), ['events.0']);
});

t.test('http-ingest-body - an event naming another tenant is forbidden, not invalid', async (t) => {
  t.throws(() => parser.parse({ ...good, tenant: 'globex' }, 'acme', 't'), ForbiddenError);
  try {
    parser.parse({ events: [good, { ...good, tenant: 'globex' }] }, 'acme', 't');
    t.fail('expected ForbiddenError');
  } catch (err) {
    t.type(err, ForbiddenError);
    t.match((err as Error).message, /events\.1\.tenant/);
    t.equal((err as ForbiddenError).code, 'TENANT_MISMATCH');
  }
});

t.test(
  'http-ingest-body - events without id get a key derived from their content and time bucket',
  async (t) => {
    const { id: _, ...noId } = good;
    const [a] = parser.parse(noId, 'acme', 't');
    const [b] = parser.parse({ ...noId, attributes: { text: 'hi' } }, 'acme', 'other-trace');
    t.match(a?.envelope.id, /^dk_[0-9a-f]{32}$/);
    t.equal(a?.envelope.id, b?.envelope.id, 'same facts, same key');
    t.equal(a?.msgId, ingestMsgId('acme', a!.envelope.id));
    const id = (over: Record<string, unknown>, tenant = 'acme') =>
      parser.parse({ ...noId, ...over }, tenant, 't')[0]?.envelope.id;
    t.equal(id({ occurredAt: '2026-01-01T11:59:59.999Z' }), a?.envelope.id, 'same 60 s bucket');
    t.not(id({ occurredAt: '2026-01-01T12:00:00Z' }), a?.envelope.id, 'next bucket');
    t.not(id({ attributes: { text: 'hi!' } }), a?.envelope.id, 'other attributes');
    t.not(id({ type: 'message.sent' }), a?.envelope.id, 'other type');
    t.not(id({ conversation: 'c43' }), a?.envelope.id, 'other conversation');
    t.not(id({}, 'globex'), a?.envelope.id, 'other tenant');
  },
);

t.test('http-ingest-body - canonical JSON ignores key order at every level', async (t) => {
  t.equal(
    canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
  );
  const at = '2026-01-01T00:00:30Z';
  const e = (attributes: Record<string, unknown>) => ({
    type: 't',
    conversation: 'c',
    occurredAt: at,
    attributes,
  });
  t.equal(
    derivedEventId('acme', e({ a: 1, b: { c: 2, d: 3 } }), 60),
    derivedEventId('acme', e({ b: { d: 3, c: 2 }, a: 1 }), 60),
  );
  t.equal(
    derivedEventId('acme', { type: 't', conversation: 'c', occurredAt: at }, 60),
    derivedEventId('acme', e({}), 60),
    'no attributes is {}',
  );
});
