/**
 * One partition owned by this process: its lease, its consumer (restarted from the ack floor on every
 * acquisition) and the pull loop that routes each message to its conversation's actor.
 *
 * Lifecycle: idle -> starting (lease, consumer) -> running -> draining -> stopped, or -> fenced from
 * starting/running/draining when another owner appears (lease lost or a state CAS conflict). A fenced
 * partition acks nothing more: its unacked messages are redelivered to the real owner.
 */
import type { ActorKind, TransitionContext } from '../contracts/actor-kind.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import type {
  Clock,
  InboundMessage,
  PartitionConsumer,
  PartitionSource,
  PartitionStage,
  PartitionStageFactory,
  Publisher,
  Versioned,
  VersionedStore,
} from '../contracts/ports.js';
import { deliveryGap } from '../contracts/ports.js';
import { parseEventSubject } from '../envelope/event-message.js';
import { errorMessage, FencedError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import type { RuntimeMetrics } from '../obs/metrics.js';
import {
  ActorCell,
  type ActorHost,
  type ActorSettings,
  type StoredState,
  type WakeScheduler,
} from './actor-cell.js';
import type { ActorRegistry } from './actor-registry.js';
import type { InFlightGate } from './in-flight.js';
import { type LeaseRecord, type LeaseStatus, LeaseTakenError, PartitionLease } from './partition-lease.js';
import type { TimerWheel } from './timer-wheel.js';

/** Longest a partition's consumers and timers may take to open before the partition is given back. */
export const OPEN_TIMEOUT_MS = 30_000;

export { deliveryGap } from '../contracts/ports.js';

export type PartitionState = 'idle' | 'starting' | 'running' | 'draining' | 'stopped' | 'fenced';

export interface PartitionWorkerDeps<S, C extends TransitionContext> {
  partition: number;
  owner: string;
  kind: ActorKind<S, C>;
  contextFor: (seq: number, now: number, enrichment?: Readonly<Record<string, unknown>>) => C;
  /** Async enrichment before each transition (ActorHost.enrich); optional. */
  enrich?: (event: EventEnvelope) => Promise<Record<string, unknown> | undefined>;
  source: PartitionSource;
  store: VersionedStore<StoredState<S>>;
  leases: VersionedStore<LeaseRecord>;
  leaseTtlMs: number;
  publisher: Publisher;
  registry: ActorRegistry<S, C>;
  gate: InFlightGate;
  metrics: RuntimeMetrics;
  log: Logger;
  clock: Clock;
  settings: ActorSettings;
  /** Durable timers: the partition's wake-ups are reloaded from the index on every acquisition. */
  timers?: TimerWheel;
  /** The connector stage (ACTIONS of this partition), run under the same lease; optional. */
  dispatch?: PartitionStageFactory;
}

export class PartitionWorker<S, C extends TransitionContext = TransitionContext> implements ActorHost<S, C> {
  readonly partition: number;
  readonly kind: ActorKind<S, C>;
  readonly store: VersionedStore<StoredState<S>>;
  readonly publisher: Publisher;
  readonly gate: InFlightGate;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly settings: ActorSettings;
  readonly wakes?: WakeScheduler;
  readonly #d: PartitionWorkerDeps<S, C>;
  readonly #lease: PartitionLease;
  #state: PartitionState = 'idle';
  #consumer: PartitionConsumer | undefined;
  #stage: PartitionStage | undefined;
  #loop: Promise<void> | undefined;
  #fenceReason: string | undefined;

  constructor(deps: PartitionWorkerDeps<S, C>) {
    this.#d = deps;
    this.partition = deps.partition;
    this.kind = deps.kind;
    this.store = deps.store;
    this.publisher = deps.publisher;
    this.gate = deps.gate;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.clock = deps.clock;
    this.settings = deps.settings;
    this.wakes = deps.timers?.forPartition(deps.partition, () => this.ownership() === 'owned');
    this.#lease = new PartitionLease({
      store: deps.leases,
      partition: deps.partition,
      owner: deps.owner,
      ttlMs: deps.leaseTtlMs,
      clock: deps.clock,
      log: deps.log,
      onLost: (reason) => this.fence(reason),
    });
  }

  get state(): PartitionState {
    return this.#state;
  }

  get fenceReason(): string | undefined {
    return this.#fenceReason;
  }

  ownership(): LeaseStatus {
    if (this.#state !== 'running' && this.#state !== 'draining') return 'lost';
    return this.#lease.status();
  }

  context(seq: number, now: number, enrichment?: Readonly<Record<string, unknown>>): C {
    return this.#d.contextFor(seq, now, enrichment);
  }

  get enrich(): ((event: EventEnvelope) => Promise<Record<string, unknown> | undefined>) | undefined {
    return this.#d.enrich;
  }

  actorFailed(key: string, err: unknown): void {
    if (err instanceof FencedError) {
      this.fence(err.message);
      return;
    }
    // Unexpected: stop the partition rather than risk acking past something that was not applied.
    this.log.error(
      { partition: this.partition, conversation: key, err },
      'actor failed unexpectedly; stopping the partition',
    );
    this.fence(`actor ${key} failed: ${errorMessage(err)}`);
  }

  /**
   * Acquires the partition and starts processing. With `expect` (dynamic ownership) it takes only that
   * lease version, the one seen free, released or expired, and resolves false if another process took it
   * first; without, it takes the lease over from any holder (static `--partitions`).
   */
  async start(expect?: Versioned<LeaseRecord>): Promise<boolean> {
    if (this.#state !== 'idle') throw new Error(`partition ${this.partition} already ${this.#state}`);
    this.#state = 'starting';
    let previous: string | undefined;
    try {
      previous = await this.#lease.acquire(() => this.#state !== 'starting', expect);
    } catch (err) {
      this.#state = 'stopped';
      if (err instanceof LeaseTakenError) return false;
      throw err;
    }
    // Opening is bounded: a request that never settles (seen after a cluster node loss) must not hold a
    // lease this process renews but never processes; the partition goes back and is tried again.
    let opened: PartitionConsumer | undefined;
    let actions: PartitionConsumer | undefined;
    let timer: NodeJS.Timeout | undefined;
    let opening: Promise<number> | undefined;
    try {
      if (this.#state !== 'starting') {
        await this.#lease.release();
        return false;
      }
      const open = async (): Promise<number> => {
        opened = await this.#d.source.open(this.partition);
        if (this.#state !== 'starting') return 0;
        const timers = this.#d.timers ? await this.#d.timers.load(this.partition) : 0;
        if (this.#state !== 'starting') return timers;
        if (this.#d.dispatch) actions = await this.#d.dispatch.source.open(this.partition);
        return timers;
      };
      opening = open();
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`opening partition ${this.partition} took longer than ${OPEN_TIMEOUT_MS} ms`)),
          OPEN_TIMEOUT_MS,
        );
        timer.unref?.();
      });
      const timers = await Promise.race([opening, timedOut]);
      clearTimeout(timer);
      this.#consumer = opened;
      if (this.#state !== 'starting' || !opened) {
        void Promise.all([opened?.stop(), actions?.stop()]).catch(() => undefined);
        await this.#lease.release();
        return false;
      }
      this.#state = 'running';
      if (actions && this.#d.dispatch) {
        this.#stage = this.#d.dispatch.create(
          this.partition,
          () => this.ownership(),
          (reason) => this.fence(`connector stage: ${reason}`),
        );
        this.#stage.start(actions);
      }
      this.metrics.partitionsOwned.inc();
      // Debug: the balancer (or the pinned start) logs one line for all the partitions it took.
      this.log.debug(
        { partition: this.partition, epoch: this.#lease.epoch, previousOwner: previous, timers },
        'partition acquired',
      );
      this.#loop = this.#pull(opened);
      return true;
    } catch (err) {
      clearTimeout(timer);
      // Could not open what the partition needs: give it back so another process (or a retry) can. An
      // open still under way after a timeout sees the state and closes what it opens.
      if (this.#state === 'starting') this.#state = 'stopped';
      // Not awaited: closing a consumer can itself hang on a server that went away.
      void Promise.all([opened?.stop(), actions?.stop()]).catch(() => undefined);
      void opening?.then(() => Promise.all([opened?.stop(), actions?.stop()])).catch(() => undefined);
      await this.#lease.release();
      throw err;
    }
  }

  async #pull(consumer: PartitionConsumer): Promise<void> {
    let lastDelivery = 0;
    try {
      for await (const msg of consumer.messages()) {
        if (this.#state !== 'running') break;
        const gap = deliveryGap(lastDelivery, msg.consumerSeq);
        if (gap) {
          // Another subscriber (a paused previous owner that woke up and pulled from the consumer we
          // recreated) received deliveries in between: they come back to us only after AckWait, behind newer
          // ones, and applying the newer first would skip them. Stop before routing anything past the gap;
          // the partition is acquired afresh and its consumer recreated from the ack floor, in order.
          this.fence(gap);
          break;
        }
        lastDelivery = msg.consumerSeq ?? lastDelivery;
        const wait = this.gate.acquire();
        if (wait) await wait;
        if (this.#state !== 'running') {
          this.gate.release();
          break;
        }
        const full = this.#route(msg);
        if (full) await full;
      }
      // The consumer ended under us (deleted, or the iterator closed): stop, and be acquired afresh.
      if (this.#state === 'running') this.fence('consumer ended');
    } catch (err) {
      if (this.#state === 'running') this.fence(`consumer failed: ${errorMessage(err)}`);
    }
  }

  #route(msg: InboundMessage): Promise<void> | undefined {
    const subject = parseEventSubject(msg.subject);
    // Unparseable subjects still go through an actor, whose decode step dead-letters them in order.
    const tenant = subject?.tenant ?? '_invalid';
    const conversation = subject?.conversation ?? '_invalid';
    const cell = this.#d.registry.touch(
      `${tenant}.${conversation}`,
      () => new ActorCell(this, tenant, conversation),
    );
    return cell.enqueue(msg);
  }

  /** Stops processing at once because another owner exists. Unacked messages stay with the stream. */
  fence(reason: string): void {
    if (this.#state === 'fenced' || this.#state === 'stopped' || this.#state === 'idle') return;
    const wasOwned = this.#state === 'running' || this.#state === 'draining';
    this.#state = 'fenced';
    this.#fenceReason = reason;
    this.metrics.fencedTotal.inc();
    if (wasOwned) this.metrics.partitionsOwned.dec();
    this.log.error(
      { partition: this.partition, reason },
      `partition ${this.partition} fenced: stopped processing it (${reason})`,
    );
    this.#lease.abandon();
    this.#stage?.fence();
    void this.#consumer?.stop();
    this.#d.registry.dropPartition(this.partition);
    this.#d.timers?.drop(this.partition);
  }

  /**
   * Graceful stop: stop pulling, let actors finish what they hold (acking it) for up to `drainMs`, then
   * drop the rest unacked and release the lease so a successor starts without waiting.
   */
  async stop(drainMs: number): Promise<void> {
    if (this.#state === 'starting') this.#state = 'stopped';
    if (this.#state !== 'running') return;
    this.#state = 'draining';
    const deadline = this.clock.now() + drainMs;
    await this.#consumer?.stop();
    await Promise.race([this.#loop, this.clock.sleep(drainMs)]);
    while (!this.#d.registry.partitionIdle(this.partition) && this.clock.now() < deadline) {
      await this.clock.sleep(10);
    }
    if (this.#state !== 'draining') return; // fenced meanwhile
    // The actors are done: the connector stage finishes the sends in progress (the rest stays for the next owner).
    await this.#stage?.stop(Math.max(2000, deadline - this.clock.now()));
    if (this.#state !== 'draining') return;
    this.#state = 'stopped';
    this.metrics.partitionsOwned.dec();
    this.#d.registry.dropPartition(this.partition);
    this.#d.timers?.drop(this.partition);
    await this.#lease.release();
  }
}
