/**
 * Metrics of the Postgres source, on the registry the composition root passes (never the global one).
 * Label `source` is the source kind (`postgres`): low cardinality, no table or tenant ids.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createSourceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    rowsTotal: new Counter({
      name: 'parley_source_rows_total',
      help: 'Outbox rows handled, by result: published (stored in EVENTS), duplicate (EVENTS had the id already: a republish after a crash or a backfill), dead_lettered (invalid row, see its error column)',
      labelNames: ['source', 'result'] as const,
      registers,
    }),
    batchRows: new Histogram({
      name: 'parley_source_batch_rows',
      help: 'Rows published in one claimed batch (one transaction, one wait for PubAcks)',
      labelNames: ['source'] as const,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    }),
    publishSeconds: new Histogram({
      name: 'parley_source_publish_seconds',
      help: 'Time from a batch claim to its commit (publish, PubAcks, stamp), in seconds',
      labelNames: ['source'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    lagSeconds: new Gauge({
      name: 'parley_source_lag_seconds',
      help: 'Age of the oldest pending outbox row when last measured (claim or safety poll), by the database clock; 0 when none is pending',
      labelNames: ['source'] as const,
      registers,
    }),
    pendingRows: new Gauge({
      name: 'parley_source_pending_rows',
      help: 'Pending outbox rows at the last safety poll',
      labelNames: ['source'] as const,
      registers,
    }),
    errorsTotal: new Counter({
      name: 'parley_source_errors_total',
      help: 'Batches abandoned (rolled back, retried with backoff), by what failed: postgres or nats',
      labelNames: ['source', 'stage'] as const,
      registers,
    }),
    connected: new Gauge({
      name: 'parley_source_listen_connected',
      help: '1 while the LISTEN connection to Postgres is up',
      labelNames: ['source'] as const,
      registers,
    }),
    reconnectsTotal: new Counter({
      name: 'parley_source_listen_reconnects_total',
      help: 'LISTEN connections lost (each is reconnected with backoff)',
      labelNames: ['source'] as const,
      registers,
    }),
  };
}

export type SourceMetrics = ReturnType<typeof createSourceMetrics>;
