/**
 * One conversation actor: a bounded mailbox processed strictly in order, one batch at a time.
 *
 * A batch folds every queued event through the pure transition, then commits in this order:
 *   1. publish all effects (deterministic message IDs; awaited together),
 *   2. write the state with revision compare-and-set, recording the last applied stream sequence,
 *   3. ack the batch's messages.
 * A crash between any two steps is safe: before 2 the redelivered events recompute the same effects and
 * their republish is deduplicated; after 2 the redelivered events are at or below the recorded sequence
 * and are acked without effect. See ARCHITECTURE.md.
 */
import type { ActorKind, TransitionContext } from '../../actors/kind.js';
import type { EventEnvelope } from '../envelope/envelope.js';
import { parseEventMessage } from '../envelope/event-message.js';
import { errorMessage, FencedError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import type { RuntimeMetrics } from '../obs/metrics.js';
import { backoffDelay } from './backoff.js';
import type { InFlightGate } from './in-flight.js';
import { deadLetter, effectToMessage } from './outbound.js';
import type { LeaseStatus } from './partition-lease.js';
import type { Clock, InboundMessage, OutboundMessage, Publisher, VersionedStore } from './ports.js';

/** What is stored per conversation: the actor's state and the last stream sequence applied to it. */
export interface StoredState<S> {
  seq: number;
  state: S;
}

export interface ActorSettings {
  mailboxCapacity: number;
  batchSize: number;
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  ackWaitMs: number;
}

/** What an actor needs from the partition that hosts it. */
export interface ActorHost<S, C extends TransitionContext = TransitionContext> {
  readonly partition: number;
  readonly kind: ActorKind<S, C>;
  readonly store: VersionedStore<StoredState<S>>;
  readonly publisher: Publisher;
  readonly gate: InFlightGate;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly settings: ActorSettings;
  /** Whether the partition may commit now; `unsure` means wait (lease renewal pending). */
  ownership(): LeaseStatus;
  context(seq: number, now: number, enrichment?: Readonly<Record<string, unknown>>): C;
  /**
   * Async enrichment awaited before the pure transition (e.g. a model classifier), its result passed in the
   * context. Must not throw: a rejection reaches the transition as `{ error }`; absent when not configured.
   */
  readonly enrich?: (event: EventEnvelope) => Promise<Record<string, unknown> | undefined>;
  /** A batch could not be committed for a reason that stops the partition (fencing). */
  actorFailed(key: string, err: unknown): void;
  /** Durable wake-ups (timers); absent when the actor kind never asks for one. */
  readonly wakes?: WakeScheduler;
}

/**
 * Where `wake` effects go: the partition's timer index (durable, written before the state commit so a
 * crash can never leave a committed timer unindexed) and the in-memory schedule (after the commit).
 */
export interface WakeScheduler {
  record(key: string, at: number | null): Promise<void>;
  scheduled(key: string, at: number | null): void;
}

export class ActorCell<S, C extends TransitionContext = TransitionContext> {
  readonly key: string;
  readonly tenant: string;
  readonly conversation: string;
  lastActive: number;
  readonly #host: ActorHost<S, C>;
  #mailbox: InboundMessage[] = [];
  #spaceWaiters: Array<() => void> = [];
  #running = false;
  #dead = false;
  #loaded = false;
  #stored: StoredState<S> | undefined;
  #revision = 0;
  readonly #attempts = new Map<number, number>();

  constructor(host: ActorHost<S, C>, tenant: string, conversation: string) {
    this.#host = host;
    this.tenant = tenant;
    this.conversation = conversation;
    this.key = `${tenant}.${conversation}`;
    this.lastActive = host.clock.now();
  }

  get partition(): number {
    return this.#host.partition;
  }

  get idle(): boolean {
    return !this.#running && this.#mailbox.length === 0;
  }

  get depth(): number {
    return this.#mailbox.length;
  }

  /** Queues a message; returns a promise only when the mailbox is full (the caller must wait). */
  enqueue(msg: InboundMessage): Promise<void> | undefined {
    if (this.#mailbox.length < this.#host.settings.mailboxCapacity) {
      this.#push(msg);
      return undefined;
    }
    return new Promise((resolve) => {
      this.#spaceWaiters.push(() => {
        this.#push(msg);
        resolve();
      });
    });
  }

  /** Drops everything queued without acking (the next owner gets it redelivered). */
  kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#host.gate.release(this.#mailbox.length);
    this.#mailbox = [];
    // Producers waiting for space are let go; #push releases their message's slot since the cell is dead.
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const w of waiters) w();
  }

  #push(msg: InboundMessage): void {
    if (this.#dead) {
      this.#host.gate.release(1);
      return;
    }
    this.#mailbox.push(msg);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#mailbox.length > 0 && !this.#dead) {
        const batch = this.#mailbox.splice(0, this.#host.settings.batchSize);
        while (this.#spaceWaiters.length > 0 && this.#mailbox.length < this.#host.settings.mailboxCapacity) {
          this.#spaceWaiters.shift()!();
        }
        try {
          await this.#process(batch);
        } catch (err) {
          this.#host.gate.release(batch.length);
          this.kill();
          this.#host.actorFailed(this.key, err);
        }
      }
    } finally {
      this.#running = false;
      this.lastActive = this.#host.clock.now();
    }
  }

  async #process(batch: InboundMessage[]): Promise<void> {
    const h = this.#host;
    if (!this.#loaded) await this.#load(batch);
    const enriched = h.enrich ? await this.#enrich(h.enrich, batch) : undefined;
    let stored: StoredState<S> = this.#stored ?? {
      seq: 0,
      state: h.kind.initial(this.tenant, this.conversation),
    };
    const out: OutboundMessage[] = [];
    const done: InboundMessage[] = [];
    let applied = 0;
    let duplicates = 0;
    let deadLettered = 0;
    let retry: { from: number; attempts: number; err: unknown } | undefined;
    let wake: number | null | undefined;

    for (let i = 0; i < batch.length; i++) {
      const msg = batch[i]!;
      if (msg.seq <= stored.seq) {
        duplicates++;
        done.push(msg);
        continue;
      }
      let event: ReturnType<typeof parseEventMessage>;
      try {
        event = enriched?.get(msg.seq)?.event ?? parseEventMessage(msg);
      } catch (err) {
        out.push(deadLetter(msg, 'undecodable', errorMessage(err), 1));
        h.log.warn(
          { partition: h.partition, conversation: this.key, seq: msg.seq, err: errorMessage(err) },
          'event dead-lettered: cannot be decoded',
        );
        stored = { seq: msg.seq, state: stored.state };
        deadLettered++;
        done.push(msg);
        continue;
      }
      let result: ReturnType<ActorKind<S, C>['transition']>;
      try {
        result = h.kind.transition(
          stored.state,
          event,
          h.context(msg.seq, msg.timestampMs, enriched?.get(msg.seq)?.enrichment),
        );
      } catch (err) {
        const attempts = (this.#attempts.get(msg.seq) ?? 0) + 1;
        if (attempts < h.settings.maxAttempts) {
          this.#attempts.set(msg.seq, attempts);
          retry = { from: i, attempts, err };
          break;
        }
        this.#attempts.delete(msg.seq);
        out.push(deadLetter(msg, 'processing-failed', errorMessage(err), attempts));
        h.log.error(
          { partition: h.partition, conversation: this.key, seq: msg.seq, attempts, err },
          'event dead-lettered after repeated failures; conversation moves on',
        );
        stored = { seq: msg.seq, state: stored.state };
        deadLettered++;
        done.push(msg);
        continue;
      }
      this.#attempts.delete(msg.seq);
      for (let e = 0; e < result.effects.length; e++) {
        const effect = result.effects[e]!;
        if (effect.type === 'wake') wake = effect.at;
        else out.push(effectToMessage(effect, event, msg.seq, e, msg.timestampMs, h.partition));
      }
      stored = { seq: msg.seq, state: result.state };
      applied++;
      done.push(msg);
    }

    if (applied + deadLettered > 0 || out.length > 0) await this.#commit(out, stored, batch, wake);
    for (const msg of done) msg.ack();
    h.gate.release(done.length);
    if (applied) h.metrics.eventsTotal.inc({ outcome: 'applied' }, applied);
    if (duplicates) h.metrics.eventsTotal.inc({ outcome: 'duplicate' }, duplicates);
    if (deadLettered) h.metrics.eventsTotal.inc({ outcome: 'dead_lettered' }, deadLettered);
    if (done.length) h.metrics.batchEvents.observe(done.length);

    if (retry) {
      const rest = batch.slice(retry.from);
      this.#mailbox.unshift(...rest);
      h.metrics.retriesTotal.inc({ stage: 'transition' });
      const delay = backoffDelay(retry.attempts, h.settings.retryInitialMs, h.settings.retryMaxMs);
      h.log.warn(
        {
          partition: h.partition,
          conversation: this.key,
          seq: rest[0]!.seq,
          attempt: retry.attempts,
          delayMs: delay,
          err: errorMessage(retry.err),
        },
        'event processing failed; retrying in place',
      );
      await this.#pause(delay, rest);
    }
  }

  /** Enriches the batch's new events concurrently (undecodable ones are left to the fold to dead-letter). */
  async #enrich(
    enrich: NonNullable<ActorHost<S, C>['enrich']>,
    batch: InboundMessage[],
  ): Promise<Map<number, { event: EventEnvelope; enrichment?: Record<string, unknown> }>> {
    const applied = this.#stored?.seq ?? 0;
    const out = new Map<number, { event: EventEnvelope; enrichment?: Record<string, unknown> }>();
    await Promise.all(
      batch.map(async (msg) => {
        if (msg.seq <= applied) return;
        let event: EventEnvelope;
        try {
          event = parseEventMessage(msg);
        } catch {
          return;
        }
        const result = await enrich(event).catch((err: unknown) => ({ error: errorMessage(err) }));
        // The parsed event is kept so the fold does not decode it a second time.
        out.set(msg.seq, result ? { event, enrichment: result } : { event });
      }),
    );
    return out;
  }

  async #commit(
    out: OutboundMessage[],
    stored: StoredState<S>,
    batch: InboundMessage[],
    wake?: number | null,
  ): Promise<void> {
    const h = this.#host;
    const started = performance.now();
    if (out.length > 0) {
      await this.#retrying('commit', batch, () => Promise.all(out.map((m) => h.publisher.publish(m))));
      for (const m of out) h.metrics.effectsTotal.inc({ type: m.subject.slice(0, m.subject.indexOf('.')) });
    }
    const wakes = wake === undefined ? undefined : h.wakes;
    if (wakes) await this.#retrying('timers', batch, () => wakes.record(this.key, wake!));
    this.#revision = await this.#save(stored, batch);
    wakes?.scheduled(this.key, wake!);
    this.#stored = stored;
    h.metrics.commitSeconds.observe((performance.now() - started) / 1000);
  }

  async #save(stored: StoredState<S>, batch: InboundMessage[]): Promise<number> {
    const h = this.#host;
    let ambiguous = false;
    for (let attempt = 1; ; attempt++) {
      await this.#owned();
      try {
        return await h.store.save(this.key, stored, this.#revision);
      } catch (err) {
        if (err instanceof FencedError) {
          if (ambiguous) {
            // An earlier attempt may have landed before its reply was lost: if the stored state is ours, it did.
            const current = await h.store.load(this.key);
            if (current.value?.seq === stored.seq) return current.revision;
          }
          throw new FencedError(
            `conversation ${this.key} state changed under this process (expected revision ${this.#revision}); another owner exists`,
            err,
          );
        }
        ambiguous = true;
        await this.#backoff('commit', attempt, err, batch);
      }
    }
  }

  async #load(batch: InboundMessage[]): Promise<void> {
    const loaded = await this.#retrying('load', batch, () => this.#host.store.load(this.key));
    this.#stored = loaded.value;
    this.#revision = loaded.revision;
    this.#loaded = true;
  }

  /** Retries an infrastructure step (NATS unavailable, timeouts) in place until it works or the partition goes. */
  async #retrying<T>(stage: string, batch: InboundMessage[], step: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.#owned();
      try {
        return await step();
      } catch (err) {
        if (err instanceof FencedError) throw err;
        await this.#backoff(stage, attempt, err, batch);
      }
    }
  }

  /** Waits while ownership is unsure (late lease renewal); throws once it is lost. */
  async #owned(): Promise<void> {
    for (;;) {
      const status = this.#host.ownership();
      if (status === 'owned') return;
      if (status === 'lost' || this.#dead)
        throw new FencedError(`partition ${this.#host.partition} is no longer owned`);
      await this.#host.clock.sleep(10);
    }
  }

  async #backoff(stage: string, attempt: number, err: unknown, batch: InboundMessage[]): Promise<void> {
    const h = this.#host;
    h.metrics.retriesTotal.inc({ stage });
    const delay = backoffDelay(attempt, h.settings.retryInitialMs, h.settings.retryMaxMs);
    h.log.warn(
      {
        partition: h.partition,
        conversation: this.key,
        stage,
        attempt,
        delayMs: delay,
        err: errorMessage(err),
      },
      'step failed; retrying in place',
    );
    await this.#pause(delay, batch);
  }

  /** Sleeps, keeping the held messages from being redelivered meanwhile. */
  async #pause(ms: number, held: InboundMessage[]): Promise<void> {
    const h = this.#host;
    if (ms > h.settings.ackWaitMs / 3) for (const m of held) m.working();
    let left = ms;
    while (left > 0 && !this.#dead) {
      const step = Math.min(left, h.settings.ackWaitMs / 3);
      await h.clock.sleep(step);
      left -= step;
      if (left > 0) for (const m of held) m.working();
    }
  }
}
