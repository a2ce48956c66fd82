/**
 * The relay: outbox rows -> EVENTS, one claimed batch at a time. Talks to interfaces only (OutboxStore,
 * the HTTP ingest's EventSink, a Publisher for dead letters); src/source-role.ts wires the adapters.
 *
 * One batch: claim pending rows (a transaction, row locks) -> convert each with the ingest's parser ->
 * publish the valid ones and dead-letter the invalid ones, awaiting every PubAck -> stamp and commit. Any
 * failure abandons the batch (rollback: the rows are pending again) and retries with backoff.
 *
 * What must stay true:
 *   - a row is stamped only after NATS acknowledged its event (or its dead letter); a crash anywhere before
 *     the commit republishes the batch with the same Nats-Msg-Ids, which the stream deduplicates (and the
 *     actors' recent-id memory beyond the duplicate window), so nothing is lost and nothing is applied twice;
 *   - backpressure: one batch in flight; the next claim waits for the previous PubAcks, and while NATS is
 *     disconnected or failing nothing is claimed (backoff, up to retryMaxMs);
 *   - batching under load: a full batch is followed at once by the next claim; a wake-up (NOTIFY) or the
 *     safety poll starts a drain when idle.
 */
import { performance } from 'node:perf_hooks';
import type { Publisher } from '../../contracts/ports.js';
import { errorMessage } from '../../errors/app-error.js';
import type { EventSink } from '../../http/ports.js';
import type { Logger } from '../../obs/logger.js';
import { backoffDelay } from '../../util/backoff.js';
import { type RowConverter, rowDeadLetter } from './outbox-row.js';
import type { OutboxStore } from './pg-outbox.js';
import type { SourceMetrics } from './source-metrics.js';

export interface OutboxRelaySettings {
  /** Rows per claim (one transaction). */
  batchSize: number;
  /** Safety poll when no notification arrives, in ms. */
  pollIntervalMs: number;
  /** How long a batch waits for its PubAcks, in ms. */
  publishTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Event id prefix (for dead-letter ids). */
  idPrefix: string;
}

export interface OutboxRelayOptions {
  outbox: OutboxStore;
  events: EventSink;
  deadLetters: Publisher;
  convert: RowConverter;
  /** Whether NATS is connected now: nothing is claimed while it is not. */
  natsConnected: () => boolean;
  metrics: SourceMetrics;
  log: Logger;
  settings: OutboxRelaySettings;
  /** Test hook (sources.postgres.crashAt): called after a batch's PubAcks, before its rows are stamped. */
  crashPoint?: () => void;
}

export interface BatchResult {
  claimed: number;
  published: number;
  duplicates: number;
  deadLettered: number;
  heldBack: number;
}

const LABEL = { source: 'postgres' } as const;
/** Wait before claiming again rows another source held back (their conversation was busy there). */
const HELD_BACK_RETRY_MS = 50;

class StageError extends Error {
  constructor(
    readonly stage: 'postgres' | 'nats',
    readonly error: unknown,
  ) {
    super(errorMessage(error));
  }
}

export class OutboxRelay {
  readonly #o: OutboxRelayOptions;
  #stopped = false;
  #woken = false;
  #wake: (() => void) | undefined;
  #stopWait: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #lastPoll = 0;

  constructor(o: OutboxRelayOptions) {
    this.#o = o;
  }

  /** Starts the drain loop (idempotent). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** A notification (or a reconnect): drain now. */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  /** Finishes the batch in flight (settled or abandoned), then resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopWait?.();
    await this.#loop;
  }

  /** One batch: claim, publish, settle. Throws StageError after abandoning the batch. */
  async drainOnce(): Promise<BatchResult> {
    const { outbox, events, deadLetters, convert, metrics, settings } = this.#o;
    const started = performance.now();
    let batch: Awaited<ReturnType<OutboxStore['claim']>>;
    try {
      batch = await outbox.claim(settings.batchSize);
    } catch (err) {
      throw new StageError('postgres', err);
    }
    const result: BatchResult = {
      claimed: batch.rows.length + batch.heldBack,
      published: 0,
      duplicates: 0,
      deadLettered: 0,
      heldBack: batch.heldBack,
    };
    if (batch.rows.length === 0) {
      await batch.abandon();
      if (batch.heldBack === 0) metrics.lagSeconds.set(LABEL, 0);
      return result;
    }
    metrics.lagSeconds.set(LABEL, batch.rows[0]!.ageSeconds);
    const outcomes = batch.rows.map(convert);
    const valid = outcomes.flatMap((o) => (o.type === 'event' ? [o] : []));
    const invalid = outcomes.flatMap((o) => (o.type === 'invalid' ? [o] : []));
    try {
      const [stored] = await Promise.all([
        valid.length > 0
          ? events.publish(
              valid.map((v) => v.event),
              { timeoutMs: settings.publishTimeoutMs },
            )
          : Promise.resolve([]),
        ...invalid.map((i) => deadLetters.publish(rowDeadLetter(i.row, i.error, settings.idPrefix))),
      ]);
      result.duplicates = stored.filter((s) => s.duplicate).length;
      result.published = stored.length - result.duplicates;
    } catch (err) {
      await batch.abandon();
      throw new StageError('nats', err);
    }
    this.#o.crashPoint?.();
    try {
      await batch.settle(
        valid.map((v) => v.row.id),
        invalid.map((i) => ({ id: i.row.id, error: i.error })),
      );
    } catch (err) {
      // Published but not stamped: the rows are pending again and their republish is deduplicated.
      throw new StageError('postgres', err);
    }
    result.deadLettered = invalid.length;
    metrics.rowsTotal.inc({ ...LABEL, result: 'published' }, result.published);
    if (result.duplicates > 0) metrics.rowsTotal.inc({ ...LABEL, result: 'duplicate' }, result.duplicates);
    if (invalid.length > 0) {
      metrics.rowsTotal.inc({ ...LABEL, result: 'dead_lettered' }, invalid.length);
      for (const i of invalid)
        this.#o.log.warn({ row: i.row.id, tenant: i.row.tenant, error: i.error }, 'outbox row dead-lettered');
    }
    metrics.batchRows.observe(LABEL, batch.rows.length);
    metrics.publishSeconds.observe(LABEL, (performance.now() - started) / 1000);
    return result;
  }

  async #run(): Promise<void> {
    const { settings, log, metrics } = this.#o;
    let attempt = 0;
    while (!this.#stopped) {
      if (!this.#o.natsConnected()) {
        await this.#sleep(Math.min(250, settings.retryMaxMs));
        continue;
      }
      this.#woken = false;
      try {
        await this.#pollStats();
        const r = await this.drainOnce();
        if (attempt > 0) log.info({ attempts: attempt }, 'outbox relay recovered');
        attempt = 0;
        const progressed = r.claimed > r.heldBack;
        // Under load: straight to the next batch.
        if (progressed && r.claimed >= settings.batchSize) continue;
        if (r.heldBack > 0) {
          await this.#sleep(HELD_BACK_RETRY_MS, true);
          continue;
        }
        if (!this.#woken) await this.#sleep(this.#untilNextPoll(), true);
      } catch (err) {
        attempt += 1;
        const stage = err instanceof StageError ? err.stage : 'postgres';
        metrics.errorsTotal.inc({ ...LABEL, stage });
        const delayMs = backoffDelay(attempt, settings.retryInitialMs, settings.retryMaxMs);
        // Where the batch's fate is decided: logged once per failure (debug after the first of an outage).
        log[attempt === 1 ? 'warn' : 'debug'](
          { stage, err: errorMessage(err), attempt, delayMs },
          'outbox batch abandoned (rows stay pending); retrying',
        );
        await this.#sleep(delayMs);
      }
    }
  }

  #untilNextPoll(): number {
    return Math.max(0, this.#lastPoll + this.#o.settings.pollIntervalMs - Date.now());
  }

  /** The safety poll doubles as the lag and backlog measurement. */
  async #pollStats(): Promise<void> {
    if (Date.now() - this.#lastPoll < this.#o.settings.pollIntervalMs) return;
    this.#lastPoll = Date.now();
    try {
      const p = await this.#o.outbox.pending();
      this.#o.metrics.pendingRows.set(LABEL, p.rows);
      this.#o.metrics.lagSeconds.set(LABEL, p.rows > 0 ? p.oldestAgeSeconds : 0);
    } catch (err) {
      throw new StageError('postgres', err);
    }
  }

  /** Sleeps up to `ms`; stop ends it early, and so does a wake-up when `wakeable` (not during a backoff). */
  #sleep(ms: number, wakeable = false): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        this.#stopWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stopWait = done;
      if (wakeable) this.#wake = done;
    });
  }
}
