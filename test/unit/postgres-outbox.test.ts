/**
 * The Postgres source's pure parts: a row -> the ingest's event or the field at fault; the dead letter of
 * a row; one relay batch against a fake store and sink (stamped only after the PubAcks, rolled back on a
 * NATS failure); `--since` parsing. No database, no NATS, no timers.
 */
import { Registry } from 'prom-client';
import t from 'tap';
import { parseSince } from '../../src/cli/commands/source.js';
import type { OutboundMessage } from '../../src/contracts/ports.js';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { createDedupeKey } from '../../src/envelope/dedupe-key.js';
import { RetryableError } from '../../src/errors/app-error.js';
import type { EventSink, PreparedEvent } from '../../src/http/ports.js';
import { DEFAULT_INGEST_LIMITS } from '../../src/http/schemas.js';
import { createLogger } from '../../src/obs/logger.js';
import { OutboxRelay } from '../../src/sources/postgres/outbox-relay.js';
import { createRowConverter, type OutboxRow, rowDeadLetter } from '../../src/sources/postgres/outbox-row.js';
import type { ClaimedBatch, OutboxStore } from '../../src/sources/postgres/pg-outbox.js';
import { createSourceMetrics } from '../../src/sources/postgres/source-metrics.js';

const NOW = Date.UTC(2026, 0, 1);
const convert = createRowConverter({
  limits: DEFAULT_INGEST_LIMITS,
  dedupeWindowSeconds: 60,
  msgId: createDedupeKey('a-secret-of-sixteen-chars'),
  idPrefix: 'pg-',
  tenants: new Set(['acme']),
  now: () => NOW,
});
const row = (over: Partial<OutboxRow> = {}): OutboxRow => ({
  id: '42',
  tenant: 'acme',
  conversation: 'c1',
  type: 'payment.failed',
  occurredAt: new Date(NOW - 1000),
  attributes: { amountCents: 1999 },
  ageSeconds: 0.5,
  ...over,
});

t.test(
  'outbox row - a valid row is the event the HTTP ingest would publish, keyed by the row id',
  async (t) => {
    const out = convert(row());
    if (out.type !== 'event') throw new Error(out.error);
    t.equal(out.event.envelope.id, 'pg-42');
    t.equal(out.event.envelope.tenant, 'acme');
    t.equal(out.event.envelope.occurredAt, new Date(NOW - 1000).toISOString());
    t.same(out.event.envelope.attributes, { amountCents: 1999 });
    t.equal(
      out.event.msgId,
      createDedupeKey('a-secret-of-sixteen-chars')('acme', 'pg-42'),
      'the keyed dedupe key',
    );
    const again = convert(row());
    t.same(again, out, 'deterministic: a republished row is the same message (trace id included)');
  },
);

t.test('outbox row - invalid rows name the field at fault', async (t) => {
  const cases: Array<[Partial<OutboxRow>, RegExp]> = [
    [{ conversation: 'a.b' }, /^conversation: must be a subject token/],
    [{ type: 'action.sent' }, /^type: the "action\." types are emitted by Parley itself/],
    [{ type: 'admin.trigger' }, /^type: the "admin\." types are reserved/],
    [{ attributes: [1, 2] }, /^attributes: /],
    [{ attributes: { s: 'x'.repeat(9000) } }, /^attributes\.s: string longer than 8192 characters/],
    [{ tenant: 'other' }, /^tenant: "other" is not a tenant of this deployment/],
    [{ occurredAt: new Date(NOW + 3_600_000) }, /^occurredAt: more than 600 seconds in the future/],
    [{ occurredAt: new Date(Number.NaN) }, /^occurredAt: /],
  ];
  for (const [over, error] of cases) {
    const out = convert(row(over));
    t.equal(out.type, 'invalid', JSON.stringify(over).slice(0, 60));
    if (out.type === 'invalid') t.match(out.error, error);
  }
});

t.test(
  'outbox row - the dead letter carries the row, the reason and the error, keyed by the row id',
  async (t) => {
    const dl = rowDeadLetter(row({ tenant: 'bad tenant' }), 'tenant: nope', 'pg-');
    t.equal(dl.subject, 'dlq.events._invalid');
    t.equal(dl.msgId, 'dlq.events.pg-42');
    t.equal(dl.headers['Parley-Error'], 'invalid_outbox_row: tenant: nope');
    const body = decodeMsgpack(dl.data) as Record<string, unknown>;
    t.match(body, { kind: 'event', reason: 'invalid_outbox_row', error: 'tenant: nope' });
    t.match(JSON.parse(Buffer.from(body.data as Uint8Array).toString()), { id: '42', tenant: 'bad tenant' });
  },
);

/** A store handing out one batch, recording how it was finished. */
function fakeStore(rows: OutboxRow[]) {
  const log: string[] = [];
  const store: OutboxStore = {
    claim: async (): Promise<ClaimedBatch> => ({
      rows,
      heldBack: 0,
      settle: async (published, invalid) => {
        log.push(`settle ${published.join(',')} invalid ${invalid.map((i) => i.id).join(',')}`);
      },
      abandon: async () => {
        log.push('abandon');
      },
    }),
    pending: async () => ({ rows: 0, oldestAgeSeconds: 0 }),
    requeueSince: async () => 0,
    pendingUpTo: async () => 0,
    maxId: async () => undefined,
    close: async () => {},
  };
  return { store, log };
}

function relay(store: OutboxStore, events: EventSink, deadLetters: OutboundMessage[], log: string[]) {
  return new OutboxRelay({
    outbox: store,
    events,
    deadLetters: {
      publish: async (m) => {
        log.push(`dead-letter ${m.msgId}`);
        deadLetters.push(m);
        return { seq: 1, duplicate: false };
      },
    },
    convert,
    natsConnected: () => true,
    metrics: createSourceMetrics(new Registry()),
    log: createLogger({ level: 'silent' }),
    settings: {
      batchSize: 10,
      pollIntervalMs: 1000,
      publishTimeoutMs: 1000,
      retryInitialMs: 1,
      retryMaxMs: 1,
      idPrefix: 'pg-',
    },
  });
}

t.test(
  'outbox relay - a batch is stamped only after the PubAcks; bad rows dead-lettered, not blocking',
  async (t) => {
    const { store, log } = fakeStore([
      row({ id: '1' }),
      row({ id: '2', conversation: 'x.y' }),
      row({ id: '3' }),
    ]);
    const published: PreparedEvent[][] = [];
    const sink: EventSink = {
      publish: async (events) => {
        log.push(`publish ${events.map((e) => e.envelope.id).join(',')}`);
        published.push([...events]);
        return events.map((_, i) => ({ seq: i + 1, duplicate: i === 1 }));
      },
    };
    const dls: OutboundMessage[] = [];
    const result = await relay(store, sink, dls, log).drainOnce();
    t.same(log, ['publish pg-1,pg-3', 'dead-letter dlq.events.pg-2', 'settle 1,3 invalid 2']);
    t.same(result, { claimed: 3, published: 1, duplicates: 1, deadLettered: 1, heldBack: 0 });
  },
);

t.test('outbox relay - NATS failing: the batch is rolled back, nothing stamped', async (t) => {
  const { store, log } = fakeStore([row({ id: '1' })]);
  const sink: EventSink = {
    publish: async () => {
      throw new RetryableError('NATS is not connected', { code: 'NATS_UNAVAILABLE' });
    },
  };
  const err = await relay(store, sink, [], log)
    .drainOnce()
    .then(
      () => undefined,
      (e: unknown) => e as { stage?: string },
    );
  t.equal(err?.stage, 'nats', 'failed at the NATS stage');
  t.same(log, ['abandon']);
});

t.test('source cli - --since takes an ISO time or a duration back from now', async (t) => {
  t.equal(parseSince('2026-01-01T00:00:00Z').toISOString(), '2026-01-01T00:00:00.000Z');
  t.equal(parseSince('7d', NOW).getTime(), NOW - 7 * 86_400_000);
  t.equal(parseSince('90m', NOW).getTime(), NOW - 90 * 60_000);
  t.throws(() => parseSince('yesterday'), /ISO-8601 time/);
});
