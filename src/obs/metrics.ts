/**
 * Metrics factory. Every metric lives on a registry the composition root creates (never prom-client's
 * global one). Names: parley_<subsystem>_<thing>_<unit>, counters end in _total, labels low-cardinality.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A registry with Node's default process metrics under their conventional names (process_cpu_seconds_total,
 * nodejs_eventloop_lag_seconds, nodejs_heap_size_used_bytes, …), so stock Node.js dashboards find them.
 */
export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

export function createRuntimeMetrics(registry: Registry) {
  const registers = [registry];
  return {
    eventsTotal: new Counter({
      name: 'parley_actor_events_total',
      help: 'Events handled by conversation actors, by outcome (applied, duplicate, dead_lettered)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    effectsTotal: new Counter({
      name: 'parley_actor_effects_total',
      help: 'Effects published by conversation actors, by effect type',
      labelNames: ['type'] as const,
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'parley_actor_commit_seconds',
      help: 'Time to publish a batch of effects and commit the state (CAS) for one actor',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchEvents: new Histogram({
      name: 'parley_actor_batch_events',
      help: 'Events folded into one state commit',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    retriesTotal: new Counter({
      name: 'parley_actor_retries_total',
      help: 'Retries of a failing step, by stage (load, transition, commit)',
      labelNames: ['stage'] as const,
      registers,
    }),
    activeActors: new Gauge({
      name: 'parley_actor_active',
      help: 'Conversation actors in memory',
      registers,
    }),
    passivatedTotal: new Counter({
      name: 'parley_actor_passivated_total',
      help: 'Idle actors dropped from memory',
      registers,
    }),
    inFlight: new Gauge({
      name: 'parley_actor_inflight_messages',
      help: 'Messages delivered to this process and not yet acked (mailbox depth plus work in progress)',
      registers,
    }),
    partitionsOwned: new Gauge({
      name: 'parley_partition_owned',
      help: 'Partitions this process currently processes',
      registers,
    }),
    fencedTotal: new Counter({
      name: 'parley_partition_fenced_total',
      help: 'Partitions this process stopped because another owner exists',
      registers,
    }),
  };
}

export type RuntimeMetrics = ReturnType<typeof createRuntimeMetrics>;
