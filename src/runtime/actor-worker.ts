/**
 * The actors role of one process: owns a set of partitions (static in this version), one PartitionWorker
 * each, sharing one actor registry (passivation) and one in-flight gate (backpressure).
 */
import type { ActorKind, TransitionContext } from '../../actors/kind.js';
import type { EventEnvelope } from '../envelope/envelope.js';
import type { Logger } from '../obs/logger.js';
import type { RuntimeMetrics } from '../obs/metrics.js';
import type { ActorSettings, StoredState } from './actor-cell.js';
import { ActorRegistry } from './actor-registry.js';
import { InFlightGate } from './in-flight.js';
import type { LeaseRecord } from './partition-lease.js';
import { type PartitionState, PartitionWorker } from './partition-worker.js';
import type { Clock, PartitionSource, Publisher, VersionedStore } from './ports.js';
import type { TimerWheel } from './timer-wheel.js';

export interface ActorWorkerOptions<S, C extends TransitionContext> {
  partitions: number[];
  owner: string;
  kind: ActorKind<S, C>;
  contextFor: (seq: number, now: number, enrichment?: Readonly<Record<string, unknown>>) => C;
  /** Async enrichment awaited before each transition (e.g. the model classifier); optional. */
  enrich?: (event: EventEnvelope) => Promise<Record<string, unknown> | undefined>;
  source: PartitionSource;
  store: VersionedStore<StoredState<S>>;
  leases: VersionedStore<LeaseRecord>;
  publisher: Publisher;
  metrics: RuntimeMetrics;
  log: Logger;
  clock: Clock;
  /** Durable timers (wake-ups); without it `wake` effects are ignored. */
  timers?: TimerWheel;
  settings: ActorSettings & {
    maxInFlight: number;
    maxActors: number;
    passivateAfterMs: number;
    leaseTtlMs: number;
  };
}

export interface ActorWorkerStatus {
  owner: string;
  partitions: Array<{ partition: number; state: PartitionState; reason?: string }>;
  actors: number;
  inFlight: number;
}

export class ActorWorker<S, C extends TransitionContext = TransitionContext> {
  readonly #o: ActorWorkerOptions<S, C>;
  readonly #registry: ActorRegistry<S, C>;
  readonly #gate: InFlightGate;
  readonly #partitions: PartitionWorker<S, C>[];
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: ActorWorkerOptions<S, C>) {
    this.#o = options;
    const { metrics, clock, settings } = options;
    this.#gate = new InFlightGate(settings.maxInFlight);
    this.#registry = new ActorRegistry<S, C>({
      maxActors: settings.maxActors,
      passivateAfterMs: settings.passivateAfterMs,
      clock,
      onPassivated: (n) => metrics.passivatedTotal.inc(n),
    });
    this.#partitions = options.partitions.map(
      (partition) =>
        new PartitionWorker<S, C>({
          partition,
          owner: options.owner,
          kind: options.kind,
          contextFor: options.contextFor,
          enrich: options.enrich,
          source: options.source,
          store: options.store,
          leases: options.leases,
          leaseTtlMs: settings.leaseTtlMs,
          publisher: options.publisher,
          registry: this.#registry,
          gate: this.#gate,
          metrics,
          log: options.log.child({ role: 'actors' }),
          clock,
          settings,
          timers: options.timers,
        }),
    );
  }

  /** Acquires every partition (in parallel) and starts processing. */
  async start(): Promise<void> {
    this.#sweep = setInterval(() => {
      this.#registry.passivate();
      this.#o.metrics.activeActors.set(this.#registry.size);
      this.#o.metrics.inFlight.set(this.#gate.count);
    }, 1000);
    this.#sweep.unref();
    this.#o.timers?.start();
    const results = await Promise.allSettled(this.#partitions.map((p) => p.start()));
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected'
        ? [{ partition: this.#partitions[i]!.partition, err: r.reason as unknown }]
        : [],
    );
    for (const f of failed)
      this.#o.log.error({ partition: f.partition, err: f.err }, 'could not acquire partition');
    if (failed.length === this.#partitions.length && failed.length > 0) {
      throw failed[0]!.err instanceof Error ? failed[0]!.err : new Error(String(failed[0]!.err));
    }
  }

  /** Drains every partition: stop pulling, finish and ack what is held, release leases. */
  async stop(drainMs = 10_000): Promise<void> {
    await Promise.all(this.#partitions.map((p) => p.stop(drainMs)));
    this.#o.timers?.stop();
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  status(): ActorWorkerStatus {
    return {
      owner: this.#o.owner,
      partitions: this.#partitions.map((p) => ({
        partition: p.partition,
        state: p.state,
        ...(p.fenceReason ? { reason: p.fenceReason } : {}),
      })),
      actors: this.#registry.size,
      inFlight: this.#gate.count,
    };
  }
}
