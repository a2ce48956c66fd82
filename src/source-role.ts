/**
 * The source role, part of the composition root (main.ts, and `parley source postgres` alone): wires the
 * Postgres outbox relay (src/sources/postgres, no NATS imports) to the same NATS adapters the ingest role
 * publishes with (NatsEventSink, the deployment's dedupe key) and to the LISTEN connection.
 *
 * Stopping: the listener first (no new wake-ups), then the relay (its batch in flight settles or rolls
 * back), then the pool. Nothing is stamped that NATS did not acknowledge.
 */
import type { Registry } from 'prom-client';
import type { ParleyConfig } from './config/schema.js';
import type { PostgresSourceConfig } from './config/sources-schema.js';
import { createDedupeKey } from './envelope/dedupe-key.js';
import type { NatsHandles } from './nats/connection.js';
import { ConnectionWatch } from './nats/connection-watch.js';
import { NatsEventSink } from './nats/event-sink.js';
import { JetStreamPublisher } from './nats/js-publisher.js';
import { readDedupeSecret } from './nats/provision.js';
import type { Logger } from './obs/logger.js';
import { OutboxRelay } from './sources/postgres/outbox-relay.js';
import { createRowConverter } from './sources/postgres/outbox-row.js';
import { PgListener } from './sources/postgres/pg-listener.js';
import { PgOutbox } from './sources/postgres/pg-outbox.js';
import { NOTIFY_CHANNEL } from './sources/postgres/schema-sql.js';
import { createSourceMetrics } from './sources/postgres/source-metrics.js';

export interface PostgresSource {
  readonly relay: OutboxRelay;
  readonly outbox: PgOutbox;
  stop(): Promise<void>;
}

export interface StartPostgresSourceOptions {
  config: ParleyConfig;
  source: PostgresSourceConfig;
  handles: NatsHandles;
  log: Logger;
  registry: Registry;
  /** Start the drain loop at once (default true); a backfill requeues rows first. */
  run?: boolean;
}

/** Where a DSN points, without its credentials (for logs). */
export function describeDsn(dsn: string): string {
  try {
    const u = new URL(dsn);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsed dsn)';
  }
}

/** The sources.postgres.crashAt test hook: SIGKILL this process at the n-th batch's crash point. */
function crashHook(after: number, log: Logger): () => void {
  log.warn(
    { crashAfter: after },
    'sources.postgres.crashAt is set: this process will kill itself (testing only)',
  );
  let passes = 0;
  return () => {
    if (++passes !== after) return;
    process.stderr.write('{"msg":"source crash point reached","point":"published"}\n');
    process.kill(process.pid, 'SIGKILL');
  };
}

export async function startPostgresSource(o: StartPostgresSourceOptions): Promise<PostgresSource> {
  const { config, source, handles } = o;
  const log = o.log.child({ role: 'source', source: 'postgres' });
  const metrics = createSourceMetrics(o.registry);
  const watch = new ConnectionWatch(handles.nc);
  const secret = config.runtime.dedupe.secret ?? (await readDedupeSecret(handles));
  const tenants = Object.keys(config.tenants);
  const outbox = new PgOutbox({
    dsn: source.dsn,
    idleInTransactionTimeoutMs: source.idleInTransactionTimeoutMs,
    connectTimeoutMs: source.connectTimeoutMs,
    log,
  });
  const relay = new OutboxRelay({
    outbox,
    events: new NatsEventSink(handles.js, watch),
    deadLetters: new JetStreamPublisher(handles.js, source.publishTimeoutMs),
    convert: createRowConverter({
      limits: config.http.limits,
      dedupeWindowSeconds: config.http.limits.dedupeWindowSeconds,
      msgId: createDedupeKey(secret),
      idPrefix: source.idPrefix,
      ...(tenants.length > 0 ? { tenants: new Set(tenants) } : {}),
      now: Date.now,
    }),
    natsConnected: () => watch.connected,
    ...(source.crashAt ? { crashPoint: crashHook(source.crashAfter, log) } : {}),
    metrics,
    log,
    settings: {
      batchSize: source.batchSize,
      pollIntervalMs: source.pollIntervalMs,
      publishTimeoutMs: source.publishTimeoutMs,
      retryInitialMs: source.retryInitialMs,
      retryMaxMs: source.retryMaxMs,
      idPrefix: source.idPrefix,
    },
  });
  const label = { source: 'postgres' };
  const listener = new PgListener({
    dsn: source.dsn,
    channel: NOTIFY_CHANNEL,
    connectTimeoutMs: source.connectTimeoutMs,
    retryInitialMs: source.retryInitialMs,
    retryMaxMs: source.retryMaxMs,
    log,
    onWake: () => relay.wake(),
    onState: (up) => {
      metrics.connected.set(label, up ? 1 : 0);
      if (!up) metrics.reconnectsTotal.inc(label);
    },
  });
  listener.start();
  if (o.run !== false) relay.start();
  log.info(
    { database: describeDsn(source.dsn), batchSize: source.batchSize, pollIntervalMs: source.pollIntervalMs },
    'postgres source running',
  );
  let stopped: Promise<void> | undefined;
  return {
    relay,
    outbox,
    stop: () => {
      stopped ??= (async () => {
        await listener.stop();
        await relay.stop();
        await outbox.close();
      })();
      return stopped;
    },
  };
}
