/**
 * The connector stage of one partition: pulls the partition's actions (`connectors-pNN` on ACTIONS, opened
 * by the partition's owner under the same lease as its actors) and sends them through their channel's
 * executor, one conversation lane at a time.
 *
 * What must stay true:
 * - Order per conversation, end to end: a lane sends its actions one at a time in stream order (which is
 *   decision order: one actor publishes them). An action that must wait (retry after a failure, throttled,
 *   deferred by the pre-send gate, claim busy) stays at the head of its lane IN MEMORY and is tried again
 *   after its delay; the later actions of its conversation wait behind it. No ordering rests on a nak with
 *   delay: the only nak is for an action scheduled for later (`delayMs`), which is ordered by due time.
 * - Others go on: a waiting lane holds only its conversation. Bounded: each lane holds at most
 *   `laneCapacity` actions (then the pull loop waits, as the actors' mailboxes do) and the process-wide
 *   in-flight gate bounds all lanes together; held messages are kept alive with working().
 * - Ownership: nothing is sent unless the partition's lease is `owned` right before the executor runs;
 *   `unsure` waits, `lost` stops the stage. A fenced stage acks nothing more: its unacked actions stay with
 *   the stream, and the next owner recreates the consumer from the ack floor (in order).
 * - Drain: stop pulling, let each lane finish the send it is in (bounded), leave the rest unacked.
 */
import { HDR_RECHECK, HDR_TRACE_ID } from '../contracts/headers.js';
import {
  type AdmissionGate,
  type Clock,
  deliveryGap,
  type InboundMessage,
  type LeaseStatus,
  type PartitionConsumer,
} from '../contracts/ports.js';
import { errorMessage } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import { backoffDelay } from '../util/backoff.js';
import type { Disposition } from './action-executor.js';
import type { ConnectorMetrics } from './connector-metrics.js';
import { HDR_REDRIVE } from './messages.js';

/** Sends one action (the channel's ActionExecutor). */
export interface ActionHandler {
  /**
   * `firstSight`: nobody can have tried this action before (see firstSight()), so a channel whose receiver
   * dedupes by the action's key may send before writing any execution record.
   */
  handle(msg: InboundMessage, firstSight?: boolean): Promise<Disposition>;
}

/**
 * True when no earlier attempt at this action can exist anywhere: its first delivery, not in the recovery
 * prefix of the consumer (an earlier owner may have held it), not decided by a redo of its event (the
 * actor's HDR_RECHECK: a copy may exist outside the duplicate window), not tried here before, not a redrive.
 */
export function firstSight(m: InboundMessage, localTries: number): boolean {
  return (
    localTries === 0 &&
    m.deliveryCount === 1 &&
    !m.recovered &&
    m.header(HDR_RECHECK) === undefined &&
    m.header(HDR_REDRIVE) === undefined
  );
}

export interface DispatcherSettings {
  /** Actions one conversation may have waiting before the partition stops pulling. */
  laneCapacity: number;
  /** AckWait of the consumer: held actions are kept alive well within it. */
  ackWaitMs: number;
}

export interface PartitionDispatcherDeps {
  partition: number;
  /** The executor of a channel (an unknown channel gets one that dead-letters it). */
  handlerFor(channel: string): ActionHandler;
  ownership(): LeaseStatus;
  /** Stops the whole partition (its actions consumer ended or failed): it is acquired afresh. */
  fail?(reason: string): void;
  gate: AdmissionGate;
  metrics: ConnectorMetrics;
  log: Logger;
  clock: Clock;
  settings: DispatcherSettings;
}

interface Lane {
  key: string;
  queue: InboundMessage[];
  running: boolean;
  /** Local tries of the head action (in-memory retries), added to its delivery count. */
  retries: number;
}

/** `act.<p>.<channel>.<tenant>.<conversation>` -> channel and `<tenant>.<conversation>`. */
function route(subject: string): { channel: string; key: string } {
  const parts = subject.split('.');
  if (parts.length >= 5) return { channel: parts[2]!, key: `${parts[3]}.${parts[4]}` };
  return { channel: parts[1] ?? '_invalid', key: subject };
}

/** The head action as the executor sees it: its delivery count includes in-memory retries. */
class Retried implements InboundMessage {
  readonly #m: InboundMessage;
  readonly #extra: number;
  constructor(m: InboundMessage, extra: number) {
    this.#m = m;
    this.#extra = extra;
  }
  get seq() {
    return this.#m.seq;
  }
  get subject() {
    return this.#m.subject;
  }
  get data() {
    return this.#m.data;
  }
  get timestampMs() {
    return this.#m.timestampMs;
  }
  get deliveryCount() {
    return this.#m.deliveryCount + this.#extra;
  }
  get recovered() {
    return this.#m.recovered;
  }
  header(name: string) {
    return this.#m.header(name);
  }
  ack() {
    this.#m.ack();
  }
  nak(delayMs?: number) {
    this.#m.nak(delayMs);
  }
  working() {
    this.#m.working();
  }
}

/** Least time without progress before a stage holding actions reports where it waits. */
const STALL_REPORT_MS = 15_000;

export type DispatcherState = 'idle' | 'running' | 'draining' | 'stopped' | 'fenced';

export class PartitionDispatcher {
  readonly #d: PartitionDispatcherDeps;
  readonly #lanes = new Map<string, Lane>();
  readonly #active = new Set<number>();
  #state: DispatcherState = 'idle';
  #consumer: PartitionConsumer | undefined;
  #loop: Promise<void> | undefined;
  #ticker: NodeJS.Timeout | undefined;
  /** Woken when a lane shrinks (the pull loop waits on a full lane) or the stage stops. */
  #laneFreed: (() => void) | undefined;
  /** Resolves when the stage stops, to cut retry waits short. */
  readonly #stopped: Promise<void>;
  #wakeStopped!: () => void;
  #held = 0;
  /** Where the pull loop is waiting (for the stall report). */
  #pullWait: 'messages' | 'gate' | 'lane' = 'messages';
  /** When an action was last taken or settled. */
  #progressAt = 0;
  #stallReportedAt = 0;

  constructor(deps: PartitionDispatcherDeps) {
    this.#d = deps;
    this.#stopped = new Promise<void>((resolve) => {
      this.#wakeStopped = resolve;
    });
  }

  get state(): DispatcherState {
    return this.#state;
  }

  /** Actions held in memory (queued or being sent). */
  get held(): number {
    return this.#held;
  }

  start(consumer: PartitionConsumer): void {
    if (this.#state !== 'idle')
      throw new Error(`dispatcher of partition ${this.#d.partition} already started`);
    this.#state = 'running';
    this.#consumer = consumer;
    this.#progressAt = this.#d.clock.now();
    this.#loop = this.#pull(consumer);
    const every = Math.max(200, Math.floor(this.#d.settings.ackWaitMs / 3));
    this.#ticker = setInterval(() => this.#keepAlive(), every);
    this.#ticker.unref();
  }

  async #pull(consumer: PartitionConsumer): Promise<void> {
    const { gate, settings } = this.#d;
    let lastDelivery = 0;
    try {
      for await (const m of consumer.messages()) {
        if (this.#state !== 'running') break;
        // Deliveries that went to another subscriber would come back only after AckWait, out of order.
        const gap = deliveryGap(lastDelivery, m.consumerSeq);
        if (gap) {
          this.#d.fail?.(`actions ${gap}`);
          break;
        }
        lastDelivery = m.consumerSeq ?? lastDelivery;
        // A redelivery of an action still held here (the first delivery settles it).
        if (this.#active.has(m.seq)) continue;
        const wait = gate.acquire();
        if (wait) {
          this.#pullWait = 'gate';
          await wait;
        }
        if (this.#state !== 'running') {
          gate.release();
          break;
        }
        const { key } = route(m.subject);
        let lane = this.#lanes.get(key);
        while (lane && lane.queue.length >= settings.laneCapacity && this.#state === 'running') {
          this.#pullWait = 'lane';
          await new Promise<void>((resolve) => {
            this.#laneFreed = resolve;
          });
          lane = this.#lanes.get(key);
        }
        if (this.#state !== 'running') {
          gate.release();
          break;
        }
        if (!lane) {
          lane = { key, queue: [], running: false, retries: 0 };
          this.#lanes.set(key, lane);
        }
        this.#pullWait = 'messages';
        this.#progressAt = this.#d.clock.now();
        this.#active.add(m.seq);
        this.#held++;
        lane.queue.push(m);
        if (!lane.running) void this.#run(lane);
      }
      if (this.#state === 'running') this.#d.fail?.('actions consumer ended');
    } catch (err) {
      if (this.#state === 'running') this.#d.fail?.(`actions consumer failed: ${errorMessage(err)}`);
    }
  }

  /** Sends a lane's actions in order until it is empty or the stage stops. */
  async #run(lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0 && this.#state === 'running') {
        const head = lane.queue[0]!;
        if (!(await this.#owned())) return;
        const { channel } = route(head.subject);
        let d: Disposition;
        try {
          d = await this.#d
            .handlerFor(channel)
            .handle(lane.retries ? new Retried(head, lane.retries) : head, firstSight(head, lane.retries));
        } catch (err) {
          const delayMs = backoffDelay(lane.retries + 1, 500, 30_000);
          this.#d.log.warn(
            {
              err: errorMessage(err),
              seq: head.seq,
              partition: this.#d.partition,
              delayMs,
              traceId: head.header(HDR_TRACE_ID),
            },
            'action failed before a send, will retry',
          );
          d = { type: 'nak', delayMs, hold: true };
        }
        if ((this.#state as DispatcherState) === 'fenced') return;
        if (d.type === 'nak' && d.hold) {
          // Wait in place: the conversation's later actions stay behind this one.
          lane.retries++;
          this.#d.metrics.actionsTotal.inc({ channel, result: 'held' });
          await this.#wait(d.delayMs);
          continue;
        }
        if (lane.queue[0] !== head) return; // dropped by stop() meanwhile: its gate slot is already back
        lane.queue.shift();
        lane.retries = 0;
        if (d.type === 'ack') head.ack();
        else head.nak(Math.max(0, Math.round(d.delayMs))); // scheduled for later: ordered by due time
        this.#settled(head);
      }
    } finally {
      lane.running = false;
      if (lane.queue.length === 0 && this.#lanes.get(lane.key) === lane) this.#lanes.delete(lane.key);
      this.#idleCheck?.();
    }
  }

  #settled(m: InboundMessage): void {
    this.#progressAt = this.#d.clock.now();
    this.#active.delete(m.seq);
    this.#held--;
    this.#d.gate.release();
    const free = this.#laneFreed;
    this.#laneFreed = undefined;
    free?.();
  }

  /** Waits until the lease is `owned`; false when it is lost or the stage stops. */
  async #owned(): Promise<boolean> {
    for (;;) {
      if (this.#state !== 'running') return false;
      const status = this.#d.ownership();
      if (status === 'owned') return true;
      if (status === 'lost') return false;
      await this.#wait(50);
    }
  }

  /** Sleeps `ms` on the injected clock, or less if the stage stops meanwhile. */
  #wait(ms: number): Promise<void> {
    return Promise.race([this.#d.clock.sleep(Math.max(0, ms)), this.#stopped]);
  }

  /** Keeps every held action from reaching AckWait (they are ours until settled). */
  #keepAlive(): void {
    for (const lane of this.#lanes.values()) for (const m of lane.queue) m.working();
    this.#reportStall();
  }

  /**
   * Holding actions while nothing was taken or settled for a while is either a long retry (a platform or
   * KV outage: the lanes say so) or a stage that stopped moving; either way an operator should see where
   * it waits. Reported at most once per interval.
   */
  #reportStall(): void {
    const now = this.#d.clock.now();
    const interval = Math.max(STALL_REPORT_MS, this.#d.settings.ackWaitMs);
    if (this.#held === 0 || now - this.#progressAt < interval || now - this.#stallReportedAt < interval)
      return;
    this.#stallReportedAt = now;
    const lanes = [...this.#lanes.values()].slice(0, 10).map((l) => ({
      conversation: l.key,
      queued: l.queue.length,
      running: l.running,
      retries: l.retries,
      headSeq: l.queue[0]?.seq,
    }));
    this.#d.log.warn(
      {
        partition: this.#d.partition,
        held: this.#held,
        lanes: this.#lanes.size,
        pullWaitsOn: this.#pullWait,
        gateInFlight: this.#d.gate.count,
        idleMs: now - this.#progressAt,
        sample: lanes,
      },
      'connector stage holds actions but has made no progress',
    );
  }

  #idleCheck: (() => void) | undefined;

  #wakeAll(): void {
    this.#wakeStopped();
    const free = this.#laneFreed;
    this.#laneFreed = undefined;
    free?.();
  }

  #releaseHeld(): void {
    // Held actions are left unacked: the next owner receives them again from the ack floor, in order.
    for (const lane of this.#lanes.values()) {
      if (lane.running) continue;
      for (const m of lane.queue.splice(0)) this.#settledUnacked(m);
    }
  }

  #settledUnacked(m: InboundMessage): void {
    this.#active.delete(m.seq);
    this.#held--;
    this.#d.gate.release();
  }

  /** Another owner exists: stop at once, ack nothing more. */
  fence(): void {
    if (this.#state === 'fenced' || this.#state === 'stopped' || this.#state === 'idle') return;
    this.#state = 'fenced';
    clearInterval(this.#ticker);
    void this.#consumer?.stop();
    this.#wakeAll();
    this.#drop();
  }

  #drop(): void {
    for (const lane of this.#lanes.values()) for (const m of lane.queue.splice(0)) this.#settledUnacked(m);
    this.#lanes.clear();
  }

  /** Graceful stop: stop pulling, let in-progress sends finish (up to `drainMs`), leave the rest unacked. */
  async stop(drainMs: number): Promise<void> {
    if (this.#state !== 'running') return;
    this.#state = 'draining';
    clearInterval(this.#ticker);
    await this.#consumer?.stop();
    this.#wakeAll();
    this.#releaseHeld();
    const deadline = this.#d.clock.now() + drainMs;
    while ([...this.#lanes.values()].some((l) => l.running) && this.#d.clock.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.#idleCheck = resolve;
        setTimeout(resolve, 50).unref();
      });
    }
    this.#idleCheck = undefined;
    await Promise.race([this.#loop, this.#d.clock.sleep(Math.max(0, deadline - this.#d.clock.now()))]);
    if (this.#state !== 'draining') return;
    this.#state = 'stopped';
    this.#drop();
  }
}
