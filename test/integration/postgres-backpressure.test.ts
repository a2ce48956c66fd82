/**
 * The Postgres source when NATS stops answering (nats-server SIGSTOPped, as a hung or overloaded server):
 * a claimed batch waits for its PubAcks, is rolled back when they do not come, and nothing is stamped; the
 * source backs off instead of claiming more; once the server answers again every row arrives once.
 */
import { join } from 'node:path';
import t from 'tap';
import { start } from '../../src/main.js';
import { startNatsServer } from '../../src/nats/embedded-server.js';
import { createLogger } from '../../src/obs/logger.js';
import { migrateOutbox } from '../../src/sources/postgres/migrate.js';
import { duplicates, waitForEvents } from '../helpers/outbox.js';
import { connect, suspendProcess, tempDir, testConfig, waitFor } from '../helpers/parley.js';
import { startTestPostgres } from '../helpers/postgres.js';

const PARTITIONS = 4;
const pg = await startTestPostgres(t);
await migrateOutbox(pg.dsn);
const dir = tempDir(t, 'parley-nats-stop-');
const server = await startNatsServer({
  port: -1,
  storeDir: join(dir, 'store'),
  configPath: join(dir, 'nats.conf'),
  logFile: join(dir, 'nats.log'),
  partitions: PARTITIONS,
});
t.teardown(async () => {
  try {
    process.kill(server.pid, 'SIGCONT'); // in case an assertion failed while it was stopped
  } catch {}
  await server.stop();
});
const parley = await start(
  testConfig(t, server.url, PARTITIONS, {
    sources: { postgres: { dsn: pg.dsn, publishTimeoutMs: 500, retryInitialMs: 200, retryMaxMs: 1000 } },
  }),
  { roles: ['source'], logger: createLogger({ level: 'silent' }), drainMs: 5000 },
);
t.teardown(() => parley.stop());
const h = await connect(t, server.url);

const emit = (conversation: string, n: number) =>
  pg.query<{ id: string }>(
    "SELECT parley_emit('acme', 'message.received', $1, jsonb_build_object('n', g))::text AS id FROM generate_series(1, $2) AS g",
    [conversation, n],
  );
const pendingRows = async () =>
  Number(
    (
      await pg.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM parley_outbox WHERE published_at IS NULL',
      )
    )[0]!.n,
  );
const natsErrors = async () => {
  const m = await parley.registry.getSingleMetric('parley_source_errors_total')?.get();
  return m?.values.find((v) => v.labels.stage === 'nats')?.value ?? 0;
};

t.test(
  'postgres source - NATS not answering: batches roll back, nothing stamped, then every row once',
  async (t) => {
    const before = await emit('bp1', 50);
    await waitForEvents(
      h,
      'acme',
      before.map((r) => `pg-${r.id}`),
      20_000,
    );

    await suspendProcess(server.pid);
    const during = await emit('bp2', 50);
    // Synchronise on the source's own account of it: batches abandoned because no PubAck came.
    await waitFor('two batches abandoned on NATS', async () => (await natsErrors()) >= 2, 30_000, 50);
    t.equal(await pendingRows(), 50, 'nothing stamped while NATS did not acknowledge');

    process.kill(server.pid, 'SIGCONT');
    const after = await emit('bp3', 50);
    const all = [...before, ...during, ...after].map((r) => `pg-${r.id}`);
    const events = await waitForEvents(h, 'acme', all, 60_000);
    t.same(
      duplicates(events.map((e) => e.id)),
      [],
      'no row stored twice (republished batches were deduplicated)',
    );
    t.equal(events.filter((e) => all.includes(e.id)).length, 150, 'every row once');
    const bp2 = events.filter((e) => e.conversation === 'bp2').map((e) => e.attributes.n);
    t.same(
      bp2,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'the conversation written while NATS was stopped, in order',
    );
    await waitFor('every row stamped', async () => (await pendingRows()) === 0, 20_000);
    const text = await parley.registry.metrics();
    t.match(text, /parley_source_rows_total\{source="postgres",result="published"\} 1\d\d/);
  },
);
