/**
 * The single connector runner of one channel: pulls actions from the channel's durable consumer, keeps
 * them in per-conversation lanes and applies each action's Disposition (ack, or nak with delay).
 *
 * What must stay true:
 * - Bounded: at most `maxInFlight` actions held (the consumer's max_ack_pending is the same bound).
 * - Order per conversation: one action of a conversation at a time, in delivery order. An action that is
 *   retried, throttled or deferred (nak with delay) holds the later actions of its own conversation: the
 *   queued ones go back to the server with a slightly longer delay, and ones arriving meanwhile are sent
 *   back too, until the holder completes (or its retry time plus `holdGraceMs` passes, in case another
 *   process received it). Other conversations never wait.
 * - Drain: stop pulling, finish what is in progress, hand queued actions back (nak), then stop.
 * Within one process this order is strict; across processes sharing a consumer it holds for retries and
 * throttling seen by the holder's process (see docs/connectors.md).
 */
import type { Logger } from '../obs/logger.js';
import { backoffDelay } from '../runtime/backoff.js';
import type { Clock, InboundMessage } from '../runtime/ports.js';
import type { ActionExecutor, Disposition } from './action-executor.js';
import type { ConnectorMetrics } from './connector-metrics.js';

export interface ActionConsumer {
  messages(): AsyncIterable<InboundMessage>;
  stop(): Promise<void>;
}

export interface ActionConsumerSource {
  open(channel: string): Promise<ActionConsumer>;
}

export interface RunnerSettings {
  maxInFlight: number;
  ackWaitMs: number;
  holdGraceMs: number;
}

export interface ConnectorRunnerDeps {
  channel: string;
  source: ActionConsumerSource;
  executor: Pick<ActionExecutor, 'handle'>;
  metrics: ConnectorMetrics;
  log: Logger;
  clock: Clock;
  settings: RunnerSettings;
}

interface Lane {
  queue: InboundMessage[];
  running: boolean;
  /** The action holding this conversation (retrying or throttled) and when it is due back. */
  hold?: { seq: number; until: number };
}

/** `act.<channel>.<tenant>.<conversation>` -> `<tenant>.<conversation>`. */
function conversationKey(subject: string): string {
  const parts = subject.split('.');
  return parts.length >= 4 ? `${parts[2]}.${parts[3]}` : subject;
}

export class ConnectorRunner {
  readonly #d: ConnectorRunnerDeps;
  readonly #lanes = new Map<string, Lane>();
  readonly #active = new Set<number>();
  #consumer: ActionConsumer | undefined;
  #loop: Promise<void> | undefined;
  #inFlight = 0;
  #slotFree: (() => void) | undefined;
  #idle: (() => void) | undefined;
  #stopping = false;
  #ticker: NodeJS.Timeout | undefined;
  #acked = 0;

  constructor(deps: ConnectorRunnerDeps) {
    this.#d = deps;
  }

  get channel(): string {
    return this.#d.channel;
  }

  async start(): Promise<void> {
    this.#consumer = await this.#d.source.open(this.#d.channel);
    this.#loop = this.#consume(this.#consumer);
    this.#ticker = setInterval(() => this.#tick(), Math.max(250, Math.floor(this.#d.settings.ackWaitMs / 3)));
    this.#ticker.unref();
  }

  async #consume(consumer: ActionConsumer): Promise<void> {
    try {
      for await (const m of consumer.messages()) {
        if (this.#stopping) {
          m.nak();
          continue;
        }
        while (this.#inFlight >= this.#d.settings.maxInFlight) {
          await new Promise<void>((resolve) => {
            this.#slotFree = resolve;
          });
        }
        if (this.#stopping) m.nak();
        else this.#admit(m);
      }
    } catch (err) {
      if (!this.#stopping) this.#d.log.error({ err, channel: this.#d.channel }, 'connector consumer failed');
    }
  }

  #setInFlight(delta: number): void {
    this.#inFlight += delta;
    this.#d.metrics.inFlight.set({ channel: this.#d.channel }, this.#inFlight);
    if (delta < 0) {
      const free = this.#slotFree;
      this.#slotFree = undefined;
      free?.();
      if (this.#inFlight === 0) this.#idle?.();
    }
  }

  #admit(m: InboundMessage): void {
    // A redelivery of an action still being handled here (AckWait passed): the first delivery will settle it.
    if (this.#active.has(m.seq)) return;
    const key = conversationKey(m.subject);
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { queue: [], running: false };
      this.#lanes.set(key, lane);
    }
    const now = this.#d.clock.now();
    if (lane.hold && lane.hold.until + this.#d.settings.holdGraceMs <= now) lane.hold = undefined;
    if (lane.hold && m.seq > lane.hold.seq) {
      // Behind a retrying action of the same conversation: come back after it.
      m.nak(Math.max(0, lane.hold.until - now) + 25);
      this.#d.metrics.actionsTotal.inc({ channel: this.#d.channel, result: 'held' });
      return;
    }
    this.#active.add(m.seq);
    this.#setInFlight(1);
    lane.queue.push(m);
    if (!lane.running) void this.#run(key, lane);
  }

  async #run(key: string, lane: Lane): Promise<void> {
    lane.running = true;
    for (let m = lane.queue.shift(); m; m = lane.queue.shift()) {
      let d: Disposition;
      try {
        d = await this.#d.executor.handle(m);
      } catch (err) {
        const delayMs = backoffDelay(m.deliveryCount, 500, 30_000);
        this.#d.log.warn(
          { err, seq: m.seq, channel: this.#d.channel, delayMs },
          'action failed before a send, will retry',
        );
        d = { type: 'nak', delayMs, hold: true };
      }
      this.#settle(m, d);
      if (d.type === 'nak' && d.hold) {
        lane.hold = { seq: m.seq, until: this.#d.clock.now() + d.delayMs };
        // Hand the later actions back in order, each a little after the holder.
        const later = lane.queue.splice(0);
        for (const [i, q] of later.entries())
          this.#settle(q, { type: 'nak', delayMs: d.delayMs + 25 + i, hold: false });
      } else if (lane.hold?.seq === m.seq) {
        lane.hold = undefined;
      }
    }
    lane.running = false;
    if (!lane.hold) this.#lanes.delete(key);
  }

  #settle(m: InboundMessage, d: Disposition): void {
    if (d.type === 'ack') {
      m.ack();
      this.#acked++;
    } else m.nak(Math.max(0, Math.round(d.delayMs)));
    this.#active.delete(m.seq);
    this.#setInFlight(-1);
  }

  /** Keeps queued actions from hitting AckWait, and forgets expired holds. */
  #tick(): void {
    const now = this.#d.clock.now();
    for (const [key, lane] of this.#lanes) {
      for (const m of lane.queue) m.working();
      if (lane.hold && lane.hold.until + this.#d.settings.holdGraceMs <= now) lane.hold = undefined;
      if (!lane.running && !lane.hold && lane.queue.length === 0) this.#lanes.delete(key);
    }
  }

  /** Stops pulling, lets in-progress actions finish (up to `drainMs`), hands queued ones back. */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#ticker);
    await this.#consumer?.stop();
    for (const lane of this.#lanes.values()) {
      for (const m of lane.queue.splice(0)) this.#settle(m, { type: 'nak', delayMs: 0, hold: false });
    }
    const free = this.#slotFree;
    this.#slotFree = undefined;
    free?.();
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
      const timer = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
      await Promise.race([idle, timer]);
      if (this.#inFlight > 0) {
        this.#d.log.warn(
          { channel: this.#d.channel, inFlight: this.#inFlight },
          'drain timed out; unfinished actions will be redelivered',
        );
      }
    }
    await this.#loop;
    this.#d.log.info({ channel: this.#d.channel, acked: this.#acked }, 'connector stopped');
  }
}
