/**
 * The producer: offers a scenario's phases to a system through a `Submitter` (Parley's HTTP ingest, or a
 * peer's queue), the same way for every system. Up to `inFlight` submits run at once, each carrying
 * `batch` events drawn in index order from the plan; a phase's rate is a schedule (constant, or a linear
 * ramp: event k is due when the integral of the rate reaches k), or "max" (closed loop). Either way no
 * more than `maxBacklog` acknowledged events may wait for their send, so what is measured is what the
 * whole pipeline sustains, not how fast a queue fills. Bounded by each phase's seconds.
 */
import type { IngestEvent } from '../e2e/workload.js';
import type { Phase, Scenario } from '../scenario-schema.js';
import type { Plan } from './plan.js';
import type { Tracker } from './tracker.js';

export interface Submitter {
  /** Submits events (ledger indexes in `indexes`; -1 = warm-up); resolves with how many were acknowledged. */
  submit(events: IngestEvent[], indexes: number[]): Promise<number>;
  lastError?: string | undefined;
  close(): Promise<void>;
}

export interface PhaseRun {
  name: string;
  startedAt: number;
  endedAt: number;
  posted: number;
  acked: number;
  /** Highest acknowledged-but-unsent backlog the driver saw. */
  maxBacklog: number;
  /** The schedule fell behind (the in-flight bound held it back) by this much at most, ms. */
  maxLagMs: number;
  supplyExhausted: boolean;
  /** The rate offered (a share of the headline's resolved to events/s). */
  rate: ResolvedRate;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ResolvedRate = 'max' | number | { from: number; to: number };

/** Seconds after the phase start at which event number k (0-based) is due; 0 for "max". */
export function dueSeconds(rate: ResolvedRate, seconds: number, k: number): number {
  if (rate === 'max') return 0;
  if (typeof rate === 'number') return k / rate;
  const a = (rate.to - rate.from) / (2 * seconds);
  if (Math.abs(a) < 1e-9) return k / rate.from;
  const t = (-rate.from + Math.sqrt(rate.from * rate.from + 4 * a * k)) / (2 * a);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

export class Driver {
  #next = 0;

  constructor(
    readonly s: Scenario,
    readonly plan: Plan,
    readonly tracker: Tracker,
    readonly submitter: Submitter,
  ) {}

  /** Next `batch` event indexes from the supply (skipping indexes that carry no event). */
  #take(batch: number, occurredAt: string): { events: IngestEvent[]; indexes: number[] } {
    const events: IngestEvent[] = [];
    const indexes: number[] = [];
    while (events.length < batch && this.#next < this.plan.total) {
      const i = this.#next++;
      const e = this.plan.event(i, occurredAt);
      if (!e) continue;
      events.push(e);
      indexes.push(i);
    }
    return { events, indexes };
  }

  /** `headlineRate`: the headline phase's measured events/s, for a rate given as a share of it. */
  async runPhase(
    index: number,
    phase: Phase,
    current: { phase: string },
    headlineRate = 0,
  ): Promise<PhaseRun> {
    const { batch, inFlight, maxBacklog } = { ...this.s.ingest, ...phase.ingest };
    const rate: ResolvedRate =
      typeof phase.rate === 'object' && 'ofHeadline' in phase.rate
        ? Math.max(1, Math.round((phase.rate as { ofHeadline: number }).ofHeadline * headlineRate))
        : phase.rate;
    current.phase = phase.name;
    const run: PhaseRun = {
      name: phase.name,
      startedAt: Date.now(),
      endedAt: 0,
      posted: 0,
      acked: 0,
      maxBacklog: 0,
      maxLagMs: 0,
      supplyExhausted: false,
      rate,
    };
    const t0 = performance.now();
    const endAt = t0 + phase.seconds * 1000;
    let claimed = 0;
    const backlog = () => this.tracker.ledger.ackedCount - this.tracker.delivered - this.#noSendAcked;
    const worker = async () => {
      for (;;) {
        const k = claimed;
        claimed += batch;
        const due = t0 + dueSeconds(rate, phase.seconds, k) * 1000;
        if (due >= endAt) return;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        else run.maxLagMs = Math.max(run.maxLagMs, -wait);
        while (maxBacklog > 0 && backlog() >= maxBacklog) {
          run.maxBacklog = Math.max(run.maxBacklog, backlog());
          if (performance.now() >= endAt) return;
          await sleep(5);
        }
        if (performance.now() >= endAt) return;
        const { events, indexes } = this.#take(batch, new Date().toISOString());
        if (!events.length) {
          run.supplyExhausted = true;
          return;
        }
        run.posted += events.length;
        for (const i of indexes) this.tracker.phaseOf[i] = index;
        const acked = await this.submitter.submit(events, indexes);
        run.acked += acked;
        if (acked > 0) for (const i of indexes) if (!this.plan.expectsSend(i)) this.#noSendAcked++;
        run.maxBacklog = Math.max(run.maxBacklog, backlog());
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    run.endedAt = Date.now();
    run.maxLagMs = Math.round(run.maxLagMs);
    return run;
  }

  /** Acknowledged events that expect no send (opted out, escalated): not part of the backlog. */
  #noSendAcked = 0;
}

/** Posts `count` warm-up events in batches and waits until `delivered()` counts them, bounded. */
export async function warmUp(
  submitter: Submitter,
  runId: string,
  count: number,
  delivered: () => number,
  event: (runId: string, k: number, at: string) => IngestEvent,
): Promise<void> {
  if (count <= 0) return;
  const at = new Date().toISOString();
  const batch = 50;
  const all: Promise<number>[] = [];
  for (let k = 0; k < count; k += batch) {
    const events = Array.from({ length: Math.min(batch, count - k) }, (_, j) => event(runId, k + j, at));
    all.push(
      submitter.submit(
        events,
        events.map(() => -1),
      ),
    );
    if (all.length >= 8) await Promise.all(all.splice(0));
  }
  await Promise.all(all);
  const deadline = Date.now() + 120_000;
  while (delivered() < count) {
    if (Date.now() > deadline)
      throw new Error(
        `bench: warm-up sends did not arrive (${delivered()}/${count})${submitter.lastError ? `; last error: ${submitter.lastError}` : ''}`,
      );
    await sleep(50);
  }
}
