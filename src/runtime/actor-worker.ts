/**
 * The actors role of one process: owns a set of partitions, one PartitionWorker each (its actors and, when
 * the connectors run here, its connector stage), sharing one actor registry (passivation) and one in-flight
 * gate (backpressure). The set is dynamic by default (PartitionBalancer: an even share among the live
 * members, moving when one joins, leaves or dies) or static (`--partitions`: pinned, taken over from any
 * holder). A PartitionWorker is used once: every acquisition of a partition gets a fresh one.
 */
import type { ActorKind, TransitionContext } from '../contracts/actor-kind.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import type {
  Clock,
  PartitionSource,
  PartitionStageFactory,
  Publisher,
  Versioned,
  VersionedStore,
} from '../contracts/ports.js';
import type { Logger } from '../obs/logger.js';
import type { RuntimeMetrics } from '../obs/metrics.js';
import type { ActorSettings, StoredState } from './actor-cell.js';
import { ActorRegistry } from './actor-registry.js';
import { InFlightGate } from './in-flight.js';
import { type BalancerView, type Membership, PartitionBalancer } from './partition-balancer.js';
import type { LeaseRecord } from './partition-lease.js';
import { type PartitionState, PartitionWorker } from './partition-worker.js';
import type { TimerWheel } from './timer-wheel.js';

export interface ActorWorkerOptions<S, C extends TransitionContext> {
  /** Pinned partitions (static), or undefined for dynamic ownership among the live members. */
  partitions: number[] | undefined;
  /** Partition count of the deployment. */
  partitionCount: number;
  /** The membership record (parley-leases, key `members`). */
  members: VersionedStore<Membership>;
  /** The connector stage, run by each partition's owner under the same lease; optional. */
  dispatch?: PartitionStageFactory;
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
    /** Bound on a handover's drain, in ms (default 10 s). */
    drainMs?: number;
  };
}

export interface ActorWorkerStatus {
  owner: string;
  mode: 'dynamic' | 'static';
  /** Dynamic: the live members and this process's share. */
  members: string[];
  target: number;
  partitions: Array<{ partition: number; state: PartitionState; reason?: string }>;
  actors: number;
  inFlight: number;
}

export class ActorWorker<S, C extends TransitionContext = TransitionContext> {
  readonly #o: ActorWorkerOptions<S, C>;
  readonly #registry: ActorRegistry<S, C>;
  readonly #gate: InFlightGate;
  readonly #workers = new Map<number, PartitionWorker<S, C>>();
  /** Static partitions fenced by another owner: kept to report why (they are not retried). */
  readonly #fenced = new Map<number, PartitionWorker<S, C>>();
  readonly #balancer: PartitionBalancer;
  #sweep: NodeJS.Timeout | undefined;
  #stopping = false;

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
    this.#balancer = new PartitionBalancer({
      owner: options.owner,
      partitions: options.partitionCount,
      leases: options.leases,
      members: options.members,
      ttlMs: settings.leaseTtlMs,
      clock,
      log: options.log.child({ role: 'actors' }),
      ...(options.partitions ? { pinned: options.partitions } : {}),
      host: {
        owned: () => this.#owned(),
        acquire: (p, seen) => this.#acquire(p, seen),
        handOver: (p) => this.#handOver(p),
      },
    });
  }

  /** The in-flight gate, shared with the connector stage of every partition. */
  get gate(): InFlightGate {
    return this.#gate;
  }

  #newWorker(partition: number): PartitionWorker<S, C> {
    const o = this.#o;
    return new PartitionWorker<S, C>({
      partition,
      owner: o.owner,
      kind: o.kind,
      contextFor: o.contextFor,
      enrich: o.enrich,
      source: o.source,
      store: o.store,
      leases: o.leases,
      leaseTtlMs: o.settings.leaseTtlMs,
      publisher: o.publisher,
      registry: this.#registry,
      gate: this.#gate,
      metrics: o.metrics,
      log: o.log.child({ role: 'actors' }),
      clock: o.clock,
      settings: o.settings,
      timers: o.timers,
      dispatch: o.dispatch,
    });
  }

  /** Partitions held or being acquired; forgets workers that stopped or were fenced. */
  #owned(): number[] {
    for (const [p, w] of this.#workers) {
      if (w.state !== 'fenced' && w.state !== 'stopped') continue;
      this.#workers.delete(p);
      if (w.state === 'fenced' && this.#o.partitions) this.#fenced.set(p, w);
    }
    return [...this.#workers.keys()];
  }

  async #acquire(partition: number, seen?: Versioned<LeaseRecord>): Promise<boolean> {
    if (this.#stopping || this.#workers.has(partition)) return false;
    const worker = this.#newWorker(partition);
    this.#workers.set(partition, worker);
    try {
      const ok = await worker.start(seen);
      if (!ok && this.#workers.get(partition) === worker) this.#workers.delete(partition);
      return ok;
    } catch (err) {
      if (this.#workers.get(partition) === worker) this.#workers.delete(partition);
      throw err;
    }
  }

  async #handOver(partition: number): Promise<void> {
    const worker = this.#workers.get(partition);
    if (!worker) return;
    // Forgotten by #owned() once it has stopped (a second call while it drains is a no-op).
    await worker.stop(this.#o.settings.drainMs ?? 10_000);
  }

  /**
   * Starts: static partitions are acquired (in parallel, taking them over from any holder); dynamic
   * ownership runs its first round (beat, take a share of the free partitions) before this resolves.
   */
  async start(): Promise<void> {
    this.#sweep = setInterval(() => {
      this.#registry.passivate();
      this.#o.metrics.activeActors.set(this.#registry.size);
      this.#o.metrics.inFlight.set(this.#gate.count);
    }, 1000);
    this.#sweep.unref();
    this.#o.timers?.start();
    const pinned = this.#o.partitions;
    if (pinned) {
      const results = await Promise.allSettled(pinned.map((p) => this.#acquire(p)));
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ partition: pinned[i]!, err: r.reason as unknown }] : [],
      );
      for (const f of failed)
        this.#o.log.error({ partition: f.partition, err: f.err }, 'could not acquire partition');
      if (failed.length === pinned.length && failed.length > 0) {
        throw failed[0]!.err instanceof Error ? failed[0]!.err : new Error(String(failed[0]!.err));
      }
    }
    await this.#balancer.start();
  }

  /** Drains every partition: stop pulling, finish and ack what is held, release leases; leaves the membership. */
  async stop(drainMs = 10_000): Promise<void> {
    this.#stopping = true;
    await this.#balancer.stop();
    await Promise.all([...this.#workers.values()].map((p) => p.stop(drainMs)));
    this.#o.timers?.stop();
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  get balancer(): BalancerView {
    return this.#balancer.view;
  }

  status(): ActorWorkerStatus {
    const static_ = this.#o.partitions;
    const workers = static_
      ? static_.flatMap((p) => {
          const w = this.#workers.get(p) ?? this.#fenced.get(p);
          return w ? [w] : [];
        })
      : [...this.#workers.values()].sort((a, b) => a.partition - b.partition);
    const view = this.#balancer.view;
    return {
      owner: this.#o.owner,
      mode: static_ ? 'static' : 'dynamic',
      members: view.members,
      target: static_ ? static_.length : view.target,
      partitions: workers.map((p) => ({
        partition: p.partition,
        state: p.state,
        ...(p.fenceReason ? { reason: p.fenceReason } : {}),
      })),
      actors: this.#registry.size,
      inFlight: this.#gate.count,
    };
  }
}
