/**
 * The Postgres source: NOTIFY -> event latency and rows/s, on loopback, against a temporary PostgreSQL
 * cluster (Debian's server binaries, as the tests use) and a local nats-server, with the source role in
 * this process. `npx tsx bench/postgres-source.ts [--latency N] [--rows N] [--batch-size N]`.
 *
 *   latency:    N single-row transactions one after another (parley_emit + COMMIT); for each, the time from
 *               the COMMIT's return to the event's arrival on its EVENTS subject (a core subscription on
 *               evt.*.bench.>). The safety poll is 10 minutes, so every event is woken by LISTEN/NOTIFY.
 *   backlog:    N rows committed while the source is stopped, then the source started: rows/s to drain them.
 *   concurrent: N rows committed by 4 producers in transactions of 50 while the source runs: rows/s end to end.
 *
 * Bounded in count and time; talks only to loopback.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { start } from '../src/main.js';
import { connectNats } from '../src/nats/connection.js';
import { createLogger } from '../src/obs/logger.js';
import { migrateOutbox } from '../src/sources/postgres/migrate.js';
import { startStandaloneNats } from '../test/helpers/nats-server.js';
import { startStandalonePostgres } from '../test/helpers/postgres.js';

const { values } = parseArgs({
  options: {
    latency: { type: 'string', default: '500' },
    rows: { type: 'string', default: '20000' },
    'batch-size': { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
  },
});
const LATENCY_N = Number(values.latency);
const ROWS = Number(values.rows);
const BATCH = Number(values['batch-size']);
const TIMEOUT_MS = 300_000;
const ROOT = new URL('..', import.meta.url).pathname;

const postgres = await startStandalonePostgres();
const nats = await startStandaloneNats({ partitions: 64 });
const { mkdtempSync, rmSync } = await import('node:fs');
const dataDir = mkdtempSync('/tmp/parley-bench-pg-');
const cleanup: Array<() => Promise<void>> = [
  async () => rmSync(dataDir, { recursive: true, force: true }),
  () => postgres.stop(),
  () => nats.stop(),
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

try {
  await migrateOutbox(postgres.dsn);
  const config = loadConfig({
    file: `${ROOT}test/fixtures/parley.yaml`,
    env: {},
    cwd: ROOT,
    overrides: {
      dataDir,
      nats: { url: nats.url },
      partitions: 64,
      rules: `${ROOT}test/fixtures/rules`,
      log: { level: 'warn' },
      sources: { postgres: { dsn: postgres.dsn, pollIntervalMs: 600_000, batchSize: BATCH } },
    },
  }).config;
  const h = await connectNats({ url: nats.url, name: 'bench' });
  cleanup.unshift(async () => h.nc.close());
  // Arrivals by event id, from a core subscription on the events' stored subjects.
  const arrived = new Map<string, number>();
  let onArrival: (() => void) | undefined;
  const sub = h.nc.subscribe('evt.*.bench.>', {
    callback: (_err, msg) => {
      const id = msg.headers?.get('Nats-Msg-Id') ?? '';
      // `<tenant>:<event id>[:<mac>]`
      arrived.set(id.split(':')[1] ?? id, performance.now());
      onArrival?.();
    },
  });
  const waitArrivals = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${arrived.size} of ${n} events arrived`)),
        TIMEOUT_MS,
      );
      onArrival = () => {
        if (arrived.size >= n) {
          clearTimeout(timer);
          onArrival = undefined;
          resolve();
        }
      };
      onArrival();
    });

  let parley = await start(config, { roles: ['source'], logger: createLogger({ level: 'error' }) });
  const client = new pg.Client({ connectionString: postgres.dsn });
  await client.connect();
  cleanup.unshift(async () => client.end());

  // 1. Latency: one row per transaction, one at a time.
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_N; i++) {
    const { rows } = await client.query<{ id: string }>(
      "SELECT parley_emit('bench', 'message.received', $1, jsonb_build_object('i', $2::int))::text AS id",
      [`lat${i % 50}`, i],
    );
    const committed = performance.now();
    const id = `pg-${rows[0]!.id}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`event ${id} did not arrive`)), 30_000);
      const check = () => {
        if (arrived.has(id)) {
          clearTimeout(timer);
          onArrival = undefined;
          resolve();
        }
      };
      onArrival = check;
      check();
    });
    latencies.push(arrived.get(id)! - committed);
  }
  latencies.sort((a, b) => a - b);
  arrived.clear();

  // 2. Backlog: ROWS committed while the source is stopped, then drained.
  await parley.stop();
  const insertRows = async (c: pg.Client, from: number, n: number, chunk: number) => {
    for (let i = 0; i < n; i += chunk) {
      const k = Math.min(chunk, n - i);
      await c.query(
        `INSERT INTO parley_outbox (tenant, conversation, type, attributes)
         SELECT 'bench', 'b' || ((g + $1) % 1000), 'message.received', jsonb_build_object('n', g + $1)
         FROM generate_series(0, $2 - 1) AS g`,
        [from + i, k],
      );
    }
  };
  await insertRows(client, 0, ROWS, 5000);
  parley = await start(config, { roles: ['source'], logger: createLogger({ level: 'error' }) });
  // From the role's start (connect and provisioning excluded) to the last event.
  let started = performance.now();
  await waitArrivals(ROWS);
  const backlogSeconds = (performance.now() - started) / 1000;
  const batches = (await parley.registry.getSingleMetric('parley_source_batch_rows')?.get())?.values ?? [];
  const sum =
    batches.find((v) => (v as { metricName?: string }).metricName === 'parley_source_batch_rows_sum')
      ?.value ?? 0;
  const count =
    batches.find((v) => (v as { metricName?: string }).metricName === 'parley_source_batch_rows_count')
      ?.value ?? 1;
  arrived.clear();

  // 3. Concurrent: 4 producers, transactions of 50, while the source runs.
  const producers = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const c = new pg.Client({ connectionString: postgres.dsn });
      await c.connect();
      return c;
    }),
  );
  started = performance.now();
  const share = Math.floor(ROWS / 4);
  await Promise.all(producers.map((c, i) => insertRows(c, ROWS + i * share, share, 50)));
  const insertSeconds = (performance.now() - started) / 1000;
  await waitArrivals(share * 4);
  const concurrentSeconds = (performance.now() - started) / 1000;
  await Promise.all(producers.map((c) => c.end()));
  await sub.unsubscribe();
  await parley.stop();

  const report = {
    latency: {
      n: latencies.length,
      p50Ms: Number(percentile(latencies, 50).toFixed(2)),
      p90Ms: Number(percentile(latencies, 90).toFixed(2)),
      p99Ms: Number(percentile(latencies, 99).toFixed(2)),
      maxMs: Number(latencies[latencies.length - 1]!.toFixed(2)),
    },
    backlog: {
      rows: ROWS,
      seconds: Number(backlogSeconds.toFixed(2)),
      rowsPerSecond: Math.round(ROWS / backlogSeconds),
      meanBatchRows: Math.round(sum / count),
    },
    concurrent: {
      rows: share * 4,
      producers: 4,
      rowsPerTransaction: 50,
      insertRowsPerSecond: Math.round((share * 4) / insertSeconds),
      endToEndRowsPerSecond: Math.round((share * 4) / concurrentSeconds),
    },
    batchSize: BATCH,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const l = report.latency;
    process.stdout.write(
      [
        `NOTIFY -> event latency (${l.n} single-row transactions): p50 ${l.p50Ms} ms, p90 ${l.p90Ms} ms, p99 ${l.p99Ms} ms, max ${l.maxMs} ms`,
        `backlog of ${ROWS} rows drained at ${report.backlog.rowsPerSecond} rows/s (${report.backlog.seconds} s, mean batch ${report.backlog.meanBatchRows} rows)`,
        `concurrent: 4 producers x transactions of 50 inserted ${report.concurrent.insertRowsPerSecond} rows/s; end to end ${report.concurrent.endToEndRowsPerSecond} rows/s`,
      ].join('\n') + '\n',
    );
  }
} finally {
  for (const fn of cleanup) await fn().catch(() => {});
}
