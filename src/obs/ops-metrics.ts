/**
 * Operational gauges read from the server when /metrics is scraped (not kept up to date on the hot path):
 * DLQ depth per channel and consumer lag per owned partition. The readers are passed in (src/nats adapts
 * them), so this module knows nothing of NATS. A failed read keeps the last values and counts the failure.
 * Also the scheduler's counters. Names follow STYLE.md: parley_<subsystem>_<thing>_<unit>.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface PartitionLag {
  /** `events` (actors-pNN on EVENTS) or `actions` (connectors-pNN on ACTIONS). */
  stage: 'events' | 'actions';
  partition: number;
  /** Stored and not yet delivered. */
  pending: number;
  /** Delivered and not yet acknowledged. */
  ackPending: number;
}

export interface OpsGaugeReaders {
  /** Messages in the DLQ stream by channel (`dlq.<channel>.<tenant>`; `events` for bad events). */
  dlqDepth?: () => Promise<Map<string, number>>;
  /** The lag of the partition consumers this process owns. */
  partitionLag?: () => Promise<PartitionLag[]>;
}

export function registerOpsGauges(registry: Registry, readers: OpsGaugeReaders): void {
  const registers = [registry];
  const failures = new Counter({
    name: 'parley_metrics_read_failures_total',
    help: 'Scrape-time reads from NATS that failed (the gauge kept its last values), by gauge',
    labelNames: ['gauge'] as const,
    registers,
  });
  if (readers.dlqDepth) {
    const read = readers.dlqDepth;
    new Gauge({
      name: 'parley_dlq_messages',
      help: 'Dead letters waiting in the DLQ stream, by channel (the same on every process: use max())',
      labelNames: ['channel'] as const,
      registers,
      async collect() {
        try {
          const depth = await read();
          this.reset();
          for (const [channel, n] of depth) this.set({ channel }, n);
        } catch {
          failures.inc({ gauge: 'parley_dlq_messages' });
        }
      },
    });
  }
  if (readers.partitionLag) {
    const read = readers.partitionLag;
    // One read per scrape serves both gauges (prom-client collects them concurrently).
    let inflight: Promise<PartitionLag[] | undefined> | undefined;
    const lag = () => {
      inflight ??= read()
        .catch(() => {
          failures.inc({ gauge: 'parley_consumer_lag' });
          return undefined;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    };
    const gauge = (name: string, help: string, value: (l: PartitionLag) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['stage', 'partition'] as const,
        registers,
        async collect() {
          const rows = await lag();
          if (!rows) return; // keep the last values
          this.reset();
          for (const l of rows) this.set({ stage: l.stage, partition: String(l.partition) }, value(l));
        },
      });
    gauge(
      'parley_consumer_pending_messages',
      'Messages stored and not yet delivered to the partition consumers this process owns',
      (l) => l.pending,
    );
    gauge(
      'parley_consumer_ack_pending_messages',
      'Messages delivered to the partition consumers this process owns and not yet acknowledged',
      (l) => l.ackPending,
    );
  }
}

export function createSchedulerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'parley_scheduler_runs_total',
      help: 'Scheduled campaign runs fired, by schedule',
      labelNames: ['schedule'] as const,
      registers,
    }),
    events: new Counter({
      name: 'parley_scheduler_events_total',
      help: 'Events the scheduler published into EVENTS',
      registers,
    }),
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
