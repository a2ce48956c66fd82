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
 *
 * Two more checks keep "exactly once" when the stream cannot: an event whose id was applied within the
 * dedupe horizon (a replay after the duplicate window, a NATS publish without Nats-Msg-Id) is acked
 * without effect and audited as a duplicate, the record of ids (actors/recent-ids.ts) being part of the
 * stored state and so written in the same CAS as the effects it suppresses; and every event is held to the
 * ingest limits before the transition sees it, so oversized or deeply nested input is dead-lettered, never
 * allowed to fail later where it would stop the partition. A conversation whose subject tokens cannot be a
 * state key (non-ASCII) is dead-lettered message by message without touching state.
 */

import {
  DEFAULT_RECENT_IDS_LIMITS,
  RecentIds,
  type RecentIdsLimits,
  recentIdKey,
} from '../../actors/recent-ids.js';
import type { ActorKind, TransitionContext } from '../contracts/actor-kind.js';
import { type EventEnvelope, TOKEN_PATTERN } from '../contracts/envelope.js';
import { HDR_TRACE_ID } from '../contracts/headers.js';
import type {
  Clock,
  InboundMessage,
  OutboundMessage,
  Publisher,
  VersionedStore,
} from '../contracts/ports.js';
import {
  type AttributeLimits,
  DEFAULT_ATTRIBUTE_LIMITS,
  LimitsExceededError,
} from '../envelope/attribute-limits.js';
import { parseEventMessage } from '../envelope/event-message.js';
import { errorMessage, FencedError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import type { RuntimeMetrics } from '../obs/metrics.js';
import { backoffDelay } from '../util/backoff.js';
import type { InFlightGate } from './in-flight.js';
import { deadLetter, effectToMessage, markRecheck } from './outbound.js';
import type { LeaseStatus } from './partition-lease.js';

/** What is stored per conversation: the actor's state and the last stream sequence applied to it. */
export interface StoredState<S> {
  seq: number;
  state: S;
  /** Recently applied event ids (RecentIds' stored form); absent when none are remembered. */
  ids?: Uint8Array;
}

export interface ActorSettings {
  mailboxCapacity: number;
  batchSize: number;
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  ackWaitMs: number;
  /** How long and how many applied event ids each conversation remembers; default 24 h and 1000 ids. */
  dedupe?: RecentIdsLimits;
  /** Limits every event is held to (the HTTP ingest's `http.limits`); default their defaults. */
  eventLimits?: AttributeLimits;
  /**
   * The tenants this deployment serves; an event of any other (a NATS producer's, since HTTP refuses them)
   * is dead-lettered as `unknown-tenant`. Unset: every tenant (a deployment that configures none).
   */
  tenants?: ReadonlySet<string>;
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
  /**
   * The ids of #stored, mutated by the fold before its commit: safe because a failed commit kills the cell
   * (the next one reloads from KV), so in a live cell it always matches what was last committed plus the
   * batch in progress.
   */
  #recent = new RecentIds();
  /** Tenant and conversation are subject tokens, so they make a valid state key. */
  readonly #keyable: boolean;
  /** The tenant is one this deployment serves. */
  readonly #known: boolean;
  readonly #attempts = new Map<number, number>();

  constructor(host: ActorHost<S, C>, tenant: string, conversation: string) {
    this.#host = host;
    this.tenant = tenant;
    this.conversation = conversation;
    this.key = `${tenant}.${conversation}`;
    this.#keyable = TOKEN_PATTERN.test(tenant) && TOKEN_PATTERN.test(conversation);
    this.#known = host.settings.tenants === undefined || host.settings.tenants.has(tenant);
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
    if (!this.#keyable)
      return this.#refuseAll(
        batch,
        'invalid-subject',
        `conversation "${this.conversation}" or tenant "${this.tenant}" is not a subject token (letters, digits, - and _)`,
      );
    if (!this.#known)
      return this.#refuseAll(batch, 'unknown-tenant', `tenant "${this.tenant}" is not configured here`);
    if (!this.#loaded) await this.#load(batch);
    const dedupe = h.settings.dedupe ?? DEFAULT_RECENT_IDS_LIMITS;
    const limits = h.settings.eventLimits ?? DEFAULT_ATTRIBUTE_LIMITS;
    const recent = this.#recent;
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
    let repeated = 0;
    let remembered = false;
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
        event = enriched?.get(msg.seq)?.event ?? parseEventMessage(msg, limits);
      } catch (err) {
        const reason = err instanceof LimitsExceededError ? 'limits-exceeded' : 'undecodable';
        out.push(deadLetter(msg, reason, errorMessage(err), 1));
        h.log.warn(
          {
            partition: h.partition,
            conversation: this.key,
            seq: msg.seq,
            reason,
            err: errorMessage(err),
            traceId: msg.header(HDR_TRACE_ID),
          },
          reason === 'undecodable'
            ? 'event dead-lettered: cannot be decoded'
            : 'event dead-lettered: exceeds the ingest limits',
        );
        stored = { ...stored, seq: msg.seq };
        deadLettered++;
        done.push(msg);
        continue;
      }
      const idKey = recentIdKey(event);
      if (recent.has(idKey, msg.timestampMs, dedupe)) {
        // Applied before under this id (a replay past the duplicate window, or a second publish without
        // Nats-Msg-Id): no effect but an audit record, and the sequence moves past it.
        out.push(
          effectToMessage(
            {
              type: 'audit',
              kind: 'duplicate',
              record: { type: event.type, reason: 'event id already applied to this conversation' },
            },
            event,
            msg.seq,
            0,
            msg.timestampMs,
            h.partition,
          ),
        );
        h.log.info(
          {
            partition: h.partition,
            conversation: this.key,
            seq: msg.seq,
            eventId: event.id,
            traceId: msg.header(HDR_TRACE_ID),
          },
          'event ignored: its id was already applied',
        );
        stored = { ...stored, seq: msg.seq };
        repeated++;
        done.push(msg);
        continue;
      }
      let result: ReturnType<ActorKind<S, C>['transition']>;
      const messages: OutboundMessage[] = [];
      let eventWake: number | null | undefined;
      try {
        result = h.kind.transition(
          stored.state,
          event,
          h.context(msg.seq, msg.timestampMs, enriched?.get(msg.seq)?.enrichment),
        );
        // Encoding is inside the per-event guard too: an effect that cannot be encoded fails this event only.
        for (let e = 0; e < result.effects.length; e++) {
          const effect = result.effects[e]!;
          if (effect.type === 'wake') eventWake = effect.at;
          else messages.push(effectToMessage(effect, event, msg.seq, e, msg.timestampMs, h.partition));
        }
        // A redo of an event an earlier delivery may have applied: its actions may exist already.
        if (msg.deliveryCount > 1 || msg.recovered) markRecheck(messages);
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
          {
            partition: h.partition,
            conversation: this.key,
            seq: msg.seq,
            attempts,
            err,
            traceId: msg.header(HDR_TRACE_ID),
          },
          'event dead-lettered after repeated failures; conversation moves on',
        );
        stored = { ...stored, seq: msg.seq };
        deadLettered++;
        done.push(msg);
        continue;
      }
      this.#attempts.delete(msg.seq);
      out.push(...messages);
      if (eventWake !== undefined) wake = eventWake;
      // An event without any id got `seq-<its sequence>`: unique already, nothing to remember.
      if (event.id !== `seq-${msg.seq}`) {
        recent.add(idKey, msg.timestampMs, dedupe);
        remembered = true;
      }
      stored = { ...stored, seq: msg.seq, state: result.state };
      applied++;
      done.push(msg);
    }

    if (remembered) {
      const ids = recent.encode();
      stored = ids ? { ...stored, ids } : { seq: stored.seq, state: stored.state };
    }
    if (applied + deadLettered + repeated > 0 || out.length > 0) await this.#commit(out, stored, batch, wake);
    for (const msg of done) msg.ack();
    h.gate.release(done.length);
    if (applied) h.metrics.eventsTotal.inc({ outcome: 'applied' }, applied);
    if (duplicates + repeated) h.metrics.eventsTotal.inc({ outcome: 'duplicate' }, duplicates + repeated);
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
          traceId: rest[0]!.header(HDR_TRACE_ID),
        },
        'event processing failed; retrying in place',
      );
      await this.#pause(delay, rest);
    }
  }

  /**
   * A conversation whose subject tokens are not valid tokens (`ingest.acme.café.…`) can have no state key:
   * each of its messages is dead-lettered as it comes, without loading or writing state, so the partition's
   * ack floor moves on instead of retrying "invalid key" forever.
   */
  async #refuseAll(batch: InboundMessage[], reason: string, why: string): Promise<void> {
    const h = this.#host;
    const out = batch.map((msg) => deadLetter(msg, reason, why, 1));
    await this.#retrying('commit', batch, () => Promise.all(out.map((m) => h.publisher.publish(m))));
    for (const m of out) h.metrics.effectsTotal.inc({ type: m.subject.slice(0, m.subject.indexOf('.')) });
    h.log.warn(
      { partition: h.partition, conversation: this.key, seqs: batch.map((m) => m.seq) },
      `events dead-lettered (${reason}): ${why}`,
    );
    for (const msg of batch) msg.ack();
    h.gate.release(batch.length);
    h.metrics.eventsTotal.inc({ outcome: 'dead_lettered' }, batch.length);
  }

  /** Enriches the batch's new events concurrently (undecodable ones are left to the fold to dead-letter). */
  async #enrich(
    enrich: NonNullable<ActorHost<S, C>['enrich']>,
    batch: InboundMessage[],
  ): Promise<Map<number, { event: EventEnvelope; enrichment?: Record<string, unknown> }>> {
    const applied = this.#stored?.seq ?? 0;
    const dedupe = this.#host.settings.dedupe ?? DEFAULT_RECENT_IDS_LIMITS;
    const out = new Map<number, { event: EventEnvelope; enrichment?: Record<string, unknown> }>();
    await Promise.all(
      batch.map(async (msg) => {
        if (msg.seq <= applied) return;
        let event: EventEnvelope;
        try {
          event = parseEventMessage(msg, this.#host.settings.eventLimits ?? DEFAULT_ATTRIBUTE_LIMITS);
        } catch {
          return;
        }
        // A repeat of an applied id is not enriched: the fold acks it without effect.
        if (this.#recent.has(recentIdKey(event), msg.timestampMs, dedupe)) return;
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
      let tries = 0;
      await this.#retrying('commit', batch, () => {
        // A publish that failed may have been stored all the same: the retry's copies are a redo.
        if (tries++ > 0) markRecheck(out);
        return Promise.all(out.map((m) => h.publisher.publish(m)));
      });
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
    this.#recent = RecentIds.decode(loaded.value?.ids);
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
