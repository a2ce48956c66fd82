/**
 * `parley source postgres`: the source role alone (events from a Postgres outbox into EVENTS), its
 * migration (`migrate`) and backfill (`--backfill --since`). Thin: the same modules `parley start` runs.
 */
import { Command } from 'commander';
import type { ParleyConfig } from '../../config/schema.js';
import type { PostgresSourceConfig } from '../../config/sources-schema.js';
import { ConfigError } from '../../errors/app-error.js';
import { buildOpsApp } from '../../http/ops-app.js';
import { connectNats, connectOptionsFrom, type NatsHandles } from '../../nats/connection.js';
import { natsReadiness } from '../../nats/readiness.js';
import { checkServerVersion } from '../../nats/server-version.js';
import { createLogger, type Logger } from '../../obs/logger.js';
import { createRegistry } from '../../obs/metrics.js';
import { describeDsn, startPostgresSource } from '../../source-role.js';
import { migrateOutbox } from '../../sources/postgres/migrate.js';
import { MIGRATION_SQL } from '../../sources/postgres/schema-sql.js';
import { loadFromFlags, print, withCommonFlags } from '../options.js';

interface SourceFlags {
  config?: string;
  natsUrl?: string;
  dsn?: string;
  json?: boolean;
  backfill?: boolean;
  since?: string;
  batchSize?: string;
  httpPort?: string;
}

function usage(path: string, message: string): ConfigError {
  return new ConfigError(`invalid ${path}`, [{ path, message }]);
}

/** `--since`: an ISO-8601 time, or a duration back from now (`90m`, `24h`, `7d`). */
export function parseSince(value: string, now = Date.now()): Date {
  const d = /^(\d+)(s|m|h|d)$/.exec(value);
  if (d) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(d[1]) * unit);
  }
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || !Number.isFinite(t))
    throw usage(
      '--since',
      `"${value}": an ISO-8601 time (2026-01-01T00:00:00Z) or a duration (90m, 24h, 7d)`,
    );
  return new Date(t);
}

function loadSourceConfig(flags: SourceFlags): { config: ParleyConfig; source: PostgresSourceConfig } {
  const postgres: Record<string, unknown> = {};
  if (flags.dsn) postgres.dsn = flags.dsn;
  if (flags.batchSize !== undefined) {
    if (!/^\d+$/.test(flags.batchSize))
      throw usage('--batch-size', `"${flags.batchSize}": a positive integer`);
    postgres.batchSize = Number(flags.batchSize);
  }
  const { config } = loadFromFlags(flags, Object.keys(postgres).length > 0 ? { sources: { postgres } } : {});
  const source = config.sources.postgres;
  if (!source)
    throw usage('--dsn', 'no database: pass --dsn postgres://... or set sources.postgres.dsn in parley.yaml');
  return { config, source };
}

/** nats.url if set, else the embedded server of a running `parley start` (its generated credentials). */
async function connectDeployment(config: ParleyConfig, log: Logger): Promise<NatsHandles> {
  const url = config.nats.url ?? `nats://${config.nats.embedded.host}:${config.nats.embedded.port}`;
  try {
    return await connectNats({ ...connectOptionsFrom(config, url), log, reconnect: true });
  } catch (err) {
    if (config.nats.url) throw err;
    throw new ConfigError('no NATS server to publish to', [
      {
        path: 'nats.url',
        message: `nothing answers at ${url}: start Parley first (npx parley start), or set nats.url / --nats-url`,
      },
    ]);
  }
}

export function registerSource(program: Command): void {
  const source = new Command('source').description(
    'event sources: publish rows from outside systems into EVENTS',
  );

  const postgres = withCommonFlags(new Command('postgres'))
    .description(
      'run the Postgres outbox source: publish each parley_outbox row as an event (id <idPrefix><row id>), ' +
        'woken by LISTEN/NOTIFY, until SIGINT/SIGTERM; with --backfill, replay rows since a time and exit',
    )
    .option('--dsn <url>', 'database URL (overrides sources.postgres.dsn)')
    .option(
      '--backfill',
      'mark rows with occurred_at >= --since pending again, publish them (same ids), exit',
    )
    .option('--since <time>', 'backfill start: ISO-8601 time or a duration back from now (24h, 7d)')
    .option('--batch-size <n>', 'rows per claim (overrides sources.postgres.batchSize)')
    .option('--http-port <n>', 'serve /healthz, /readyz and /metrics on this port (0 = a free one, logged)')
    .option('--json', 'machine-readable output (backfill)')
    .action(async (flags: SourceFlags) => {
      if (flags.backfill && !flags.since) throw usage('--since', '--backfill needs --since <time>');
      if (flags.since && !flags.backfill) throw usage('--since', '--since only applies with --backfill');
      const since = flags.since ? parseSince(flags.since) : undefined;
      let httpPort: number | undefined;
      if (flags.httpPort !== undefined) {
        httpPort = Number(flags.httpPort);
        if (!/^\d+$/.test(flags.httpPort) || httpPort > 65535)
          throw usage('--http-port', `"${flags.httpPort}": a port from 0 to 65535`);
      }
      const { config, source: pg } = loadSourceConfig(flags);
      // Installed before anything starts: a signal during start-up drains once it is up (a second exits).
      let signalled = false;
      const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
        const onSignal = (signal: NodeJS.Signals) => {
          // A backfill stopped halfway is safe to repeat: exit (open claims roll back with the connection).
          if (signalled || since) process.exit(130);
          signalled = true;
          resolve(signal);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      const log = createLogger({
        level: config.log.level,
        ...(flags.backfill ? { destination: process.stderr } : {}),
      });
      const registry = createRegistry();
      const handles = await connectDeployment(config, log);
      checkServerVersion(handles.nc.info ?? { version: '0.0.0' }, log);
      const running = await startPostgresSource({
        config,
        source: pg,
        handles,
        log,
        registry,
        run: false,
      });
      let ops: ReturnType<typeof buildOpsApp> | undefined;
      if (httpPort !== undefined) {
        ops = buildOpsApp({
          log,
          registry,
          version: '0.1.0',
          readiness: natsReadiness({ handles, streamsDir: config.streams, partitions: config.partitions }),
        });
        const url = await ops.listen({ host: config.http.host, port: httpPort });
        log.info({ url, routes: ['/healthz', '/readyz', '/metrics'] }, 'health and metrics listening');
      }
      const shutdown = async () => {
        await running.stop();
        await ops?.close();
        await handles.nc.drain();
      };
      if (since) {
        // The same path as live rows: requeued rows are claimed, published with their ids, stamped again.
        const upTo = await running.outbox.maxId();
        const requeued = await running.outbox.requeueSince(since, 5000);
        running.relay.start();
        let left = upTo ? await running.outbox.pendingUpTo(upTo) : 0;
        while (left > 0) {
          await new Promise((r) => setTimeout(r, 200));
          left = await running.outbox.pendingUpTo(upTo!);
        }
        await shutdown();
        const report = { since: since.toISOString(), requeued, database: describeDsn(pg.dsn) };
        print(flags, report, () => `backfill since ${report.since}: ${requeued} rows republished (same ids)`);
        return;
      }
      running.relay.start();
      const signal = await stopSignal;
      log.info({ signal }, 'draining');
      await shutdown().catch((err) => log.error({ err }, 'shutdown failed'));
      log.info('stopped');
      log.flush(() => process.exit(0));
    });

  postgres.addCommand(
    withCommonFlags(new Command('migrate'))
      .description(
        'create or update parley_outbox, its NOTIFY trigger, parley_emit() and parley_outbox_prune() (idempotent)',
      )
      .option('--dsn <url>', 'database URL (overrides sources.postgres.dsn)')
      .option('--print', 'print the SQL instead of applying it (for your own migration tool)')
      .option('--json', 'machine-readable output')
      .action(async (own: SourceFlags & { print?: boolean }, cmd: Command) => {
        // --dsn, --config and --nats-url may be parsed by the parent `postgres` command.
        const flags = cmd.optsWithGlobals<SourceFlags & { print?: boolean }>();
        void own;
        if (flags.print) {
          process.stdout.write(`${MIGRATION_SQL.trim()}\n`);
          return;
        }
        const { source: pg } = loadSourceConfig(flags);
        const report = await migrateOutbox(pg.dsn, { connectTimeoutMs: pg.connectTimeoutMs });
        print(
          flags,
          { ...report, database: describeDsn(pg.dsn) },
          () =>
            `parley_outbox ${report.existed ? 'was present; schema re-applied (no change to rows)' : 'created'} ` +
            `on ${describeDsn(pg.dsn)} (Postgres ${report.serverVersion})`,
        );
      }),
  );

  source.addCommand(postgres);
  program.addCommand(source);
}
