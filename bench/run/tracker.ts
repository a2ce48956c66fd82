/**
 * What the receiver got, booked as it arrives: the runner calls `poll()` once a second with the platform's
 * new sends; each is matched to the event that triggered it (the webhook body's `event.id`) and to the
 * ingest acknowledgement the producer recorded, so latency, throughput and the correctness counters exist
 * while the run goes on (the progress line, the timeline of the HTML report), not only at the end.
 *
 * Counters, all of which must stay 0 for Parley:
 *  - duplicates: a direct send beyond the first for one event, plus repeats of one webhook-id the platform
 *    accepted twice (journey and detector sends included);
 *  - unsafe: any send to a conversation that opened with STOP or a risky message;
 *  - lost: an acknowledged event that expects a send and got none by the end of the drain;
 *  - orderViolations: a conversation's direct send whose event came earlier than one already delivered.
 */
import type { SimSend } from '../../src/sim/sim-platform.js';
import { type Ledger, percentile, round1 } from '../e2e/workload.js';
import type { Plan } from './plan.js';

export interface TimelinePoint {
  /** Seconds since the first phase started. */
  t: number;
  phase: string;
  posted: number;
  acked: number;
  delivered: number;
  ackedPerSecond: number;
  deliveredPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Percentiles {
  events: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => round1(percentile(sorted, p));
  return {
    events: sorted.length,
    p50Ms: at(50),
    p95Ms: at(95),
    p99Ms: at(99),
    maxMs: round1(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

const DIRECT_TEMPLATES = new Set(['ack', 'thanks']);
const JOURNEY_TEMPLATES = new Set(['welcome', 'replied', 'nudge']);

interface Body {
  conversation?: string;
  template?: string;
  event?: { id?: string };
}

export class Tracker {
  readonly firstAt: Float64Array;
  readonly count: Uint16Array;
  /** Phase (index) in which each event was acknowledged; 255 = none. */
  readonly phaseOf: Uint8Array;
  readonly #lastRound: Int32Array;
  readonly #latencyByPhase: number[][] = [];
  #window: number[] = [];
  #seen = 0;
  #lastTick: { at: number; acked: number; delivered: number } | undefined;
  readonly timeline: TimelinePoint[] = [];
  /** The timeline's zero: the first phase's start (set by the runner; warm-up points are not kept). */
  origin = Date.now();
  delivered = 0;
  duplicates = 0;
  unsafe = 0;
  orderViolations = 0;
  warmupSends = 0;
  unknownSends = 0;
  readonly byKind: Record<string, number> = { direct: 0, journey: 0, detector: 0, other: 0 };
  readonly byTemplate: Record<string, number> = {};
  /** Latencies of every delivered event so far, for "p99 so far". */
  #all: number[] = [];

  constructor(
    readonly plan: Plan,
    readonly ledger: Ledger,
    phases: number,
  ) {
    this.firstAt = new Float64Array(plan.total).fill(Number.NaN);
    this.count = new Uint16Array(plan.total);
    this.phaseOf = new Uint8Array(plan.total).fill(255);
    this.#lastRound = new Int32Array(plan.conversations).fill(-1);
    for (let p = 0; p < phases; p++) this.#latencyByPhase.push([]);
  }

  /** Books the platform's sends from where the last call stopped (`sends` is the whole log so far). */
  poll(sends: SimSend[]): void {
    for (; this.#seen < sends.length; this.#seen++) this.#book(sends[this.#seen]!);
  }

  #book(s: SimSend): void {
    if (s.duplicate) this.duplicates++;
    let body: Body;
    try {
      body = JSON.parse(s.body) as Body;
    } catch {
      this.unknownSends++;
      return;
    }
    const c = this.plan.conversationIndex(body.conversation ?? '');
    if (c < 0) {
      if (body.conversation?.startsWith(`${this.plan.runId}-w`)) this.warmupSends++;
      else this.unknownSends++;
      return;
    }
    const template = body.template ?? '';
    this.byTemplate[template] = (this.byTemplate[template] ?? 0) + 1;
    if (this.plan.forbidden(c)) this.unsafe++;
    if (!DIRECT_TEMPLATES.has(template)) {
      this.byKind[JOURNEY_TEMPLATES.has(template) ? 'journey' : template ? 'detector' : 'other']!++;
      return;
    }
    this.byKind.direct!++;
    const i = this.plan.eventIndex(body.event?.id ?? '');
    if (i < 0) {
      this.unknownSends++;
      return;
    }
    if (this.count[i]! < 65535) this.count[i]!++;
    if (this.count[i]! > 1) {
      this.duplicates++;
      return;
    }
    this.firstAt[i] = s.at;
    this.delivered++;
    const round = Math.floor(i / this.plan.conversations);
    if (round < this.#lastRound[c]!) this.orderViolations++;
    else this.#lastRound[c] = round;
    const ackAt = this.ledger.ackAt[i]!;
    if (!Number.isNaN(ackAt)) {
      const ms = s.at - ackAt;
      this.#window.push(ms);
      this.#all.push(ms);
      const p = this.phaseOf[i]!;
      if (p !== 255) this.#latencyByPhase[p]!.push(ms);
    }
  }

  /** Closes a timeline point (call once a second). */
  tick(phase: string): TimelinePoint {
    const now = Date.now();
    let acked = 0;
    let posted = 0;
    // Counting the ledger is O(total); the ledger keeps running totals instead.
    acked = this.ledger.ackedCount;
    posted = this.ledger.postedCount;
    const last = this.#lastTick ?? { at: this.origin, acked: 0, delivered: 0 };
    const secs = Math.max(0.001, (now - last.at) / 1000);
    const w = this.#window.length ? percentiles(this.#window) : undefined;
    const point: TimelinePoint = {
      t: Math.round((now - this.origin) / 100) / 10,
      phase,
      posted,
      acked,
      delivered: this.delivered,
      ackedPerSecond: Math.round((acked - last.acked) / secs),
      deliveredPerSecond: Math.round((this.delivered - last.delivered) / secs),
      p50Ms: w ? w.p50Ms : null,
      p99Ms: w ? w.p99Ms : null,
    };
    this.#window = [];
    this.#lastTick = { at: now, acked, delivered: this.delivered };
    if (phase !== 'warm-up') this.timeline.push(point);
    return point;
  }

  /** p99 over everything delivered so far (sorted on demand: call it at most once a second). */
  p99SoFar(): number | null {
    if (!this.#all.length) return null;
    return percentiles(this.#all).p99Ms;
  }

  phaseLatency(p: number): Percentiles {
    return percentiles(this.#latencyByPhase[p] ?? []);
  }

  allLatency(): Percentiles {
    return percentiles(this.#all);
  }

  /** Acknowledged events expecting a send that got none; events of `phase` only when given. */
  lost(phase?: number): number {
    let lost = 0;
    for (let i = 0; i < this.plan.total; i++) {
      if (phase !== undefined && this.phaseOf[i] !== phase) continue;
      if (Number.isNaN(this.ledger.ackAt[i]!) || !this.plan.expectsSend(i)) continue;
      if (this.count[i] === 0) lost++;
    }
    return lost;
  }

  /** Acknowledged events of a phase that expect a send, and the last first-delivery among them. */
  expected(phase: number): { expected: number; delivered: number; lastAt: number } {
    let expected = 0;
    let delivered = 0;
    let lastAt = 0;
    for (let i = 0; i < this.plan.total; i++) {
      if (this.phaseOf[i] !== phase || !this.plan.expectsSend(i)) continue;
      expected++;
      if (this.count[i]! > 0) {
        delivered++;
        if (this.firstAt[i]! > lastAt) lastAt = this.firstAt[i]!;
      }
    }
    return { expected, delivered, lastAt };
  }
}
