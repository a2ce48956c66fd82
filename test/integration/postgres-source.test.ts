/**
 * The Postgres source against a real PostgreSQL (a temporary cluster) and a real nats-server: the migration,
 * committed and rolled-back transactions, invalid rows dead-lettered with the field at fault, parley_emit
 * from a trigger (the payments example), backfill, metrics. The safety poll is set to 10 minutes, so every
 * event here arrives because LISTEN/NOTIFY woke the source.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pgClient from 'pg';
import t from 'tap';
import { start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import { duplicates, storedEvents, storedMessages, waitForEvents } from '../helpers/outbox.js';
import {
  connect,
  ROOT,
  spawnCli,
  TEST_CONFIG_FILE,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/parley.js';
import { startTestPostgres } from '../helpers/postgres.js';

const PARTITIONS = 4;
const pg = await startTestPostgres(t);
const nats = await startTestNats(t, { partitions: PARTITIONS });
const h = await connect(t, nats.url);

async function cli(args: string[]) {
  const child = spawnCli(t, args, {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_DATA_DIR: tempDir(t),
  });
  const code = await child.exited;
  return { code, out: child.lines.join('\n') };
}

t.test('postgres source - migrate creates the outbox and is idempotent', async (t) => {
  const first = await cli(['source', 'postgres', 'migrate', '--dsn', pg.dsn]);
  t.equal(first.code, 0, first.out);
  t.match(first.out, /parley_outbox created/);
  const second = await cli(['source', 'postgres', 'migrate', '--dsn', pg.dsn, '--json']);
  t.equal(second.code, 0, second.out);
  t.match(second.out, /"existed": true/);
  const cols = await pg.query<{ column_name: string }>(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'parley_outbox' ORDER BY ordinal_position",
  );
  t.same(
    cols.map((c) => c.column_name),
    [
      'id',
      'tenant',
      'conversation',
      'type',
      'occurred_at',
      'attributes',
      'created_at',
      'published_at',
      'error',
    ],
  );
  const printed = await cli(['source', 'postgres', 'migrate', '--print']);
  t.equal(printed.code, 0);
  t.match(printed.out, /CREATE OR REPLACE FUNCTION parley_emit/);
});

const config = testConfig(t, nats.url, PARTITIONS, {
  sources: { postgres: { dsn: pg.dsn, pollIntervalMs: 600_000, batchSize: 50 } },
});
const parley = await start(config, {
  roles: ['source'],
  logger: createLogger({ level: 'silent' }),
  drainMs: 5000,
});
t.teardown(() => parley.stop());

t.test('postgres source - rows committed in one transaction appear as events once, in order', async (t) => {
  const ids = await pg.query<{ id: string }>(`
    WITH a AS (SELECT parley_emit('acme', 'purchase.completed', 'tx1', '{"amount": 12.5, "sku": "p-1"}') AS id),
         b AS (SELECT parley_emit('acme', 'message.received', 'tx1', '{"text": "thanks"}') AS id),
         c AS (INSERT INTO parley_outbox (tenant, conversation, type, occurred_at, attributes)
               VALUES ('acme', 'tx2', 'subscription.renewed', '2026-01-02T03:04:05Z', '{"plan": "gold"}') RETURNING id)
    SELECT id::text FROM a UNION ALL SELECT id::text FROM b UNION ALL SELECT id::text FROM c`);
  const want = ids.map((r) => `pg-${r.id}`);
  const events = await waitForEvents(h, 'acme', want, 20_000);
  const mine = events.filter((e) => want.includes(e.id));
  t.same(duplicates(mine.map((e) => e.id)), [], 'each row once');
  t.equal(mine.length, 3);
  const tx1 = mine.filter((e) => e.conversation === 'tx1');
  t.same(
    tx1.map((e) => e.type),
    ['purchase.completed', 'message.received'],
    'a conversation in row order',
  );
  t.same(tx1[0]!.attributes, { amount: 12.5, sku: 'p-1' });
  const tx2 = mine.find((e) => e.conversation === 'tx2')!;
  t.equal(tx2.occurredAt, '2026-01-02T03:04:05.000Z');
  t.match(tx2.subject, /^evt\.\d+\.acme\.tx2\.subscription\.renewed$/);
  const stamped = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM parley_outbox WHERE id = ANY($1::bigint[]) AND published_at IS NOT NULL AND error IS NULL',
    [ids.map((r) => r.id)],
  );
  t.equal(stamped[0]!.n, '3', 'stamped published after the PubAck');
});

t.test('postgres source - a rolled-back transaction emits nothing', async (t) => {
  const c = new pgClient.Client({ connectionString: pg.dsn });
  await c.connect();
  await c.query('BEGIN');
  const rolled = (
    await c.query<{ id: string }>("SELECT parley_emit('acme', 'message.received', 'rb1', '{}')::text AS id")
  ).rows[0]!.id;
  const rolled2 = (
    await c.query<{ id: string }>("SELECT parley_emit('acme', 'message.received', 'rb1', '{}')::text AS id")
  ).rows[0]!.id;
  await c.query('ROLLBACK');
  // The sentinel is committed after the rollback: once it is on EVENTS, the source has been through both.
  const sentinel = (
    await c.query<{ id: string }>("SELECT parley_emit('acme', 'message.received', 'rb2', '{}')::text AS id")
  ).rows[0]!.id;
  await c.end();
  const events = await waitForEvents(h, 'acme', [`pg-${sentinel}`], 20_000);
  const ids = new Set(events.map((e) => e.id));
  t.notOk(ids.has(`pg-${rolled}`), 'rolled-back row not published');
  t.notOk(ids.has(`pg-${rolled2}`), 'rolled-back row not published');
  t.notOk(
    events.some((e) => e.conversation === 'rb1'),
    'no event for the rolled-back conversation',
  );
  t.equal((await pg.query('SELECT 1 FROM parley_outbox WHERE conversation = $1', ['rb1'])).length, 0);
});

t.test(
  'postgres source - invalid rows are dead-lettered with the field at fault, later rows still flow',
  async (t) => {
    const rows = await pg.query<{ id: string; conversation: string }>(`
    INSERT INTO parley_outbox (tenant, conversation, type, attributes) VALUES
      ('acme', 'bad1', 'message.received', '{"n": 1}'),
      ('acme', 'has.dot', 'message.received', '{}'),
      ('acme', 'bad2', 'action.sent', '{}'),
      ('acme', 'bad3', 'message.received', '[1, 2]'),
      ('no such tenant', 'bad4', 'message.received', '{}'),
      ('acme', 'bad5', 'message.received', jsonb_build_object('text', repeat('x', 9000))),
      ('acme', 'bad1', 'message.received', '{"n": 2}')
    RETURNING id::text, conversation`);
    const good = [rows[0]!, rows[6]!].map((r) => `pg-${r.id}`);
    const events = await waitForEvents(h, 'acme', good, 20_000);
    t.same(
      events.filter((e) => e.conversation === 'bad1').map((e) => e.attributes.n),
      [1, 2],
      'the rows around the bad ones, in order',
    );
    const errors = await pg.query<{
      conversation: string;
      tenant: string;
      error: string | null;
      published_at: Date | null;
    }>(
      'SELECT conversation, tenant, error, published_at FROM parley_outbox WHERE id = ANY($1::bigint[]) ORDER BY id',
      [rows.slice(1, 6).map((r) => r.id)],
    );
    t.equal(errors.length, 5);
    for (const e of errors) t.ok(e.published_at, `${e.conversation} settled`);
    t.match(errors[0]!.error, /^conversation: must be a subject token/);
    t.match(errors[1]!.error, /^type: the "action\." types are emitted by Parley itself/);
    t.match(errors[2]!.error, /^attributes: /);
    t.match(errors[3]!.error, /^tenant: /);
    t.match(errors[4]!.error, /^attributes\.text: string longer than 8192 characters/);
    const dlq = await waitFor('5 dead letters', async () => {
      const m = await storedMessages(h, 'DLQ', 'dlq.events.>');
      return m.length >= 5 ? m : undefined;
    });
    t.equal(dlq.length, 5);
    t.ok(
      dlq.some(
        (m) =>
          m.subject === 'dlq.events._invalid' &&
          /^invalid_outbox_row: tenant/.test(m.headers.get('Parley-Error') ?? ''),
      ),
      'a tenant that is no subject token is dead-lettered on dlq.events._invalid',
    );
    t.ok(
      dlq.filter((m) => m.subject === 'dlq.events.acme').every((m) => m.body.reason === 'invalid_outbox_row'),
      'the reason is recorded',
    );
  },
);

t.test('postgres source - parley_emit from a trigger: a failed payment becomes payment.failed', async (t) => {
  await pg.query(readFileSync(join(ROOT, 'src/sources/postgres/examples/payments.sql'), 'utf8'));
  const [p] = await pg.query<{ id: string }>(
    "INSERT INTO payments (tenant, fan_id, amount_cents) VALUES ('acme', 'fan7', 1999) RETURNING id::text",
  );
  await pg.query("UPDATE payments SET status = 'succeeded' WHERE id = $1", [p!.id]);
  await pg.query("UPDATE payments SET status = 'failed', failure_code = 'card_declined' WHERE id = $1", [
    p!.id,
  ]);
  const [row] = await pg.query<{ id: string }>(
    "SELECT id::text FROM parley_outbox WHERE conversation = 'fan7' AND type = 'payment.failed'",
  );
  t.ok(row, 'the trigger wrote one outbox row');
  const events = await waitForEvents(h, 'acme', [`pg-${row!.id}`], 20_000);
  const fan7 = events.filter((e) => e.conversation === 'fan7');
  t.equal(fan7.length, 1, 'only the failure is an event');
  t.same(fan7[0]!.attributes, {
    paymentId: Number(p!.id),
    amountCents: 1999,
    currency: 'USD',
    failureCode: 'card_declined',
  });
});

t.test('postgres source - backfill republishes history with the same ids, safe to repeat', async (t) => {
  const before = await storedEvents(h, 'acme');
  const published = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM parley_outbox WHERE published_at IS NOT NULL AND error IS NULL',
  );
  for (const run of [1, 2]) {
    const res = await cli([
      'source',
      'postgres',
      '--dsn',
      pg.dsn,
      '--backfill',
      '--since',
      '2020-01-01T00:00:00Z',
      '--json',
    ]);
    t.equal(res.code, 0, res.out);
    // The report is the last (pretty-printed) JSON object; log lines come before it.
    const report = JSON.parse(res.out.slice(res.out.lastIndexOf('\n{\n') + 1)) as {
      requeued: number;
    };
    t.equal(report.requeued, Number(published[0]!.n), `run ${run}: every published row since then replayed`);
  }
  const after = await storedEvents(h, 'acme');
  t.equal(after.length, before.length, 'the stream deduplicated the replays (same ids)');
  const pending = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM parley_outbox WHERE published_at IS NULL',
  );
  t.equal(pending[0]!.n, '0', 'every row stamped again');
});

t.test('postgres source - metrics count rows, batches and lag', async (t) => {
  const text = await parley.registry.metrics();
  t.match(text, /parley_source_rows_total\{source="postgres",result="published"\} [1-9]/);
  t.match(text, /parley_source_rows_total\{source="postgres",result="dead_lettered"\} 5/);
  t.match(text, /parley_source_batch_rows_count\{source="postgres"\} [1-9]/);
  t.match(text, /parley_source_lag_seconds\{source="postgres"\} /);
  t.match(text, /parley_source_listen_connected\{source="postgres"\} 1/);
});

t.test(
  'postgres source - parley_outbox_prune deletes old published rows, keeps dead letters and pending',
  async (t) => {
    await pg.query(
      "UPDATE parley_outbox SET published_at = now() - interval '8 days' WHERE published_at IS NOT NULL",
    );
    const [{ kept }] = (await pg.query<{ kept: string }>(
      'SELECT count(*)::text AS kept FROM parley_outbox WHERE error IS NOT NULL',
    )) as [{ kept: string }];
    const [first] = await pg.query<{ n: string }>("SELECT parley_outbox_prune('7 days', 3)::text AS n");
    t.equal(first!.n, '3', 'at most max_rows per call');
    const [rest] = await pg.query<{ n: string }>("SELECT parley_outbox_prune('7 days')::text AS n");
    t.ok(Number(rest!.n) > 0, 'the rest on the next call');
    const left = await pg.query<{ error: string | null }>('SELECT error FROM parley_outbox');
    t.equal(left.length, Number(kept), 'only the dead-lettered rows are left');
    t.ok(
      left.every((r) => r.error !== null),
      'dead-lettered rows are kept for an operator',
    );
  },
);
