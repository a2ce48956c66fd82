/**
 * The Postgres source under faults, with real processes: `parley source postgres` children against a
 * temporary PostgreSQL cluster and a real nats-server, and an in-process Parley (actors + connectors, the
 * echo rule, a webhook channel to the simulated platform) turning every event into one delivery. Two
 * independent checks: EVENTS holds each row's event exactly once, in row order per conversation; the
 * receiver got one action per row (checkWebhookHistory). Everything synchronises on events, never sleeps.
 */
import pgClient from 'pg';
import t, { type Test } from 'tap';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { migrateOutbox } from '../../src/sources/postgres/migrate.js';
import { startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { duplicates, type StoredOutboxEvent, waitForEvents } from '../helpers/outbox.js';
import {
  type ChildParley,
  connect,
  ROOT,
  spawnCli,
  startParley,
  TEST_CONFIG_FILE,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/parley.js';
import { checkWebhookHistory, WEBHOOK_SECRET, waitForDeliveries } from '../helpers/pipeline.js';
import { startTestPostgres } from '../helpers/postgres.js';

const PARTITIONS = 4;
const TENANTS = ['crash', 'shared', 'restart'] as const;
const pg = await startTestPostgres(t);
const nats = await startTestNats(t, { partitions: PARTITIONS });
const h = await connect(t, nats.url);
await applyDefinitions(h, loadDefinitions(`${ROOT}/streams`), { partitions: PARTITIONS });
await migrateOutbox(pg.dsn);
const sim = await startSim(t, { perSecond: 1_000_000, burst: 1_000_000, latencyMs: 1 });
const parley = await startParley(
  t,
  testConfig(t, nats.url, PARTITIONS, {
    tenants: Object.fromEntries(
      TENANTS.map((id) => [
        id,
        { channels: { webhook: { url: `${sim.url}/hooks/${id}`, secret: WEBHOOK_SECRET } } },
      ]),
    ),
  }),
);
void parley;

/** A `parley source postgres` child; `env` adds PARLEY_* settings. */
function source(env: Record<string, string> = {}, args: string[] = []): ChildParley {
  return spawnCli(t, ['source', 'postgres', '--dsn', pg.dsn, ...args], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_DATA_DIR: tempDir(t),
    PARLEY_PARTITIONS: String(PARTITIONS),
    PARLEY_LOG__LEVEL: 'info',
    PARLEY_SOURCES__POSTGRES__BATCH_SIZE: '20',
    PARLEY_SOURCES__POSTGRES__POLL_INTERVAL_MS: '2000',
    PARLEY_SOURCES__POSTGRES__RETRY_MAX_MS: '1000',
    ...env,
  });
}

interface Row {
  id: number;
  conversation: string;
  n: number;
}

/** Rows for `conversations` × `perConversation`, with explicit ids from `base` (so a producer can retry). */
function rows(tenant: string, base: number, conversations: number, perConversation: number): Row[] {
  const out: Row[] = [];
  for (let n = 0; n < perConversation; n++)
    for (let c = 0; c < conversations; c++)
      out.push({ id: base + out.length, conversation: `${tenant}-c${c}`, n });
  return out;
}

/**
 * Inserts rows in transactions of `chunk`, retrying a transaction (same ids: ON CONFLICT DO NOTHING) until
 * it commits, so a database restart mid-load loses nothing the producer meant to write.
 */
async function produce(tenant: string, all: Row[], chunk = 10, onCommit?: (done: number) => Promise<void>) {
  for (let i = 0; i < all.length; i += chunk) {
    const part = all.slice(i, i + chunk);
    for (let attempt = 0; ; attempt++) {
      const c = new pgClient.Client({ connectionString: pg.dsn, connectionTimeoutMillis: 2000 });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query(
          `INSERT INTO parley_outbox (id, tenant, conversation, type, attributes)
           SELECT r.id, $1, r.conversation, 'message.received', jsonb_build_object('n', r.n)
           FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, conversation text, n int)
           ON CONFLICT (id) DO NOTHING`,
          [tenant, JSON.stringify(part)],
        );
        await c.end();
        break;
      } catch (err) {
        await c.end().catch(() => {});
        if (attempt > 200) throw err;
        // The database is restarting: wait until it answers again (the connect above is the probe).
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await onCommit?.(i + part.length);
  }
}

/** Checks the events of `all` on EVENTS and at the receiver; returns the events. */
async function checkDelivered(t: Test, tenant: string, all: Row[]): Promise<StoredOutboxEvent[]> {
  const ids = all.map((r) => `pg-${r.id}`);
  const events = await waitForEvents(h, tenant, ids, 120_000, 'message.received');
  t.equal(events.length, all.length, 'EVENTS holds one event per row');
  t.same(duplicates(events.map((e) => e.id)), [], 'no row published twice');
  const order: string[] = [];
  const last = new Map<string, number>();
  for (const e of events) {
    const n = e.attributes.n as number;
    if ((last.get(e.conversation) ?? -1) > n)
      order.push(`${e.conversation}: ${n} after ${last.get(e.conversation)}`);
    last.set(e.conversation, n);
  }
  t.same(order, [], 'every conversation in row order on EVENTS');
  const mine = () => sim.sends().filter((s) => s.path === `/hooks/${tenant}`);
  const reached = await waitForDeliveries(mine, all.length);
  t.equal(reached, all.length, 'one delivery per row');
  const report = checkWebhookHistory(
    all.map((r) => ({ conversation: r.conversation, n: r.n })),
    mine(),
  );
  t.same(report.lost, [], 'no row without its send');
  t.same(report.duplicates, [], 'no row sent under two action IDs');
  t.same(report.orderViolations, [], 'sends in row order per conversation');
  const pending = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM parley_outbox WHERE tenant = $1 AND published_at IS NULL',
    [tenant],
  );
  t.equal(pending[0]!.n, '0', 'every row stamped');
  return events;
}

async function stampedCount(tenant: string): Promise<number> {
  const r = await pg.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM parley_outbox WHERE tenant = $1 AND published_at IS NOT NULL',
    [tenant],
  );
  return Number(r[0]!.n);
}

t.test('postgres source - kill -9 mid-batch and restart: no row lost, none published twice', async (t) => {
  const all = rows('crash', 1_000_000, 20, 30);
  await produce('crash', all, 50);
  // The child kills itself after its 4th batch's PubAcks, before those rows are stamped.
  const first = source({
    PARLEY_SOURCES__POSTGRES__CRASH_AT: 'published',
    PARLEY_SOURCES__POSTGRES__CRASH_AFTER: '4',
  });
  const code = await first.exited;
  t.equal(code, null, 'killed by SIGKILL');
  t.equal(first.proc.signalCode, 'SIGKILL');
  const published = (await waitForEvents(h, 'crash', [], 10_000, 'message.received')).length;
  const stamped = await stampedCount('crash');
  t.equal(published, 80, 'four batches of 20 reached EVENTS');
  t.equal(stamped, 60, 'the last of them was never stamped: the crash was mid-batch');
  // An outside kill -9 as well, while it is busy.
  const second = source();
  await waitFor('the second source under way', async () => (await stampedCount('crash')) > 60, 60_000, 50);
  second.proc.kill('SIGKILL');
  await second.exited;
  t.comment(`outside kill -9 with ${await stampedCount('crash')} of ${all.length} rows stamped`);
  const third = source();
  await checkDelivered(t, 'crash', all);
  await third.waitForLine(/"postgres source running"/);
  third.proc.kill('SIGTERM');
  t.equal(await third.exited, 0, 'clean exit on SIGTERM');
});

t.test('postgres source - two source processes share the table without double-publishing', async (t) => {
  const all = rows('shared', 2_000_000, 20, 20);
  const a = source({}, ['--http-port', '0']);
  const b = source({}, ['--http-port', '0']);
  const urls = await Promise.all(
    [a, b].map(async (c) => {
      const line = await c.waitForLine(/"health and metrics listening"/);
      return (JSON.parse(line) as { url: string }).url;
    }),
  );
  await produce('shared', all, 20);
  await checkDelivered(t, 'shared', all);
  const counts = await Promise.all(
    urls.map(async (u) => {
      const text = await (await fetch(`${u}/metrics`)).text();
      const num = (result: string) =>
        Number(
          new RegExp(`parley_source_rows_total\\{source="postgres",result="${result}"\\} (\\d+)`).exec(
            text,
          )?.[1] ?? 0,
        );
      return { published: num('published'), duplicate: num('duplicate') };
    }),
  );
  t.comment(`rows published by each source: ${counts.map((c) => c.published).join(' and ')}`);
  t.ok(
    counts.every((c) => c.published > 0),
    'both sources published rows',
  );
  t.equal(counts[0]!.published + counts[1]!.published, all.length, 'together exactly the rows, once each');
  t.equal(counts[0]!.duplicate + counts[1]!.duplicate, 0, 'no publish was a duplicate of the other source');
  a.proc.kill('SIGTERM');
  b.proc.kill('SIGTERM');
  t.same(await Promise.all([a.exited, b.exited]), [0, 0]);
});

t.test('postgres source - Postgres restarted under load: nothing lost or duplicated', async (t) => {
  const all = rows('restart', 3_000_000, 20, 30);
  const child = source();
  await child.waitForLine(/"postgres source running"/);
  let restarted = false;
  await produce('restart', all, 10, async (done) => {
    // A third of the way in, once the source has published some of it: an immediate shutdown (like a crash,
    // recovery on the next start) while rows are flowing, then the server comes back on the same port.
    if (restarted || done < all.length / 3) return;
    if ((await stampedCount('restart')) === 0) return;
    restarted = true;
    await pg.stopServer('immediate');
    await pg.startServer();
  });
  t.ok(restarted, 'the server was restarted mid-load');
  await checkDelivered(t, 'restart', all);
  await child.waitForLine(/Postgres LISTEN connection lost; reconnecting/, 5000);
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0, 'clean exit on SIGTERM');
});
