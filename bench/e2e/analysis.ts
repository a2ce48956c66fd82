/**
 * What the simulated platform received, matched against what ingest acknowledged: per event the first
 * delivery time and the number of deliveries (from the webhook body's `event.id`), then throughput,
 * latency and the safety checks (duplicates, unsafe sends, lost events).
 */
import type { SimSend } from '../../src/sim/sim-platform.js';
import {
  eventIndex,
  isOptedOut,
  type Ledger,
  percentile,
  round1,
  round2,
  type Workload,
} from './workload.js';

export interface Deliveries {
  /** First delivery per event (sim clock = driver clock, ms since the epoch; NaN = none). */
  firstAt: Float64Array;
  count: Uint16Array;
  warmup: number;
  /** Sends whose body names no event of this run. */
  unknown: number;
}

export function deliveries(w: Workload, sends: SimSend[]): Deliveries {
  const firstAt = new Float64Array(w.total).fill(Number.NaN);
  const count = new Uint16Array(w.total);
  let warmup = 0;
  let unknown = 0;
  for (const s of sends) {
    let id: unknown;
    try {
      id = (JSON.parse(s.body) as { event?: { id?: unknown } }).event?.id;
    } catch {
      id = undefined;
    }
    const i = typeof id === 'string' ? eventIndex(w, id) : -1;
    if (i < 0) {
      if (typeof id === 'string' && id.startsWith(`${w.runId}w-`)) warmup++;
      else unknown++;
      continue;
    }
    if (count[i]! < 65535) count[i]!++;
    if (!(s.at >= firstAt[i]!)) firstAt[i] = s.at; // NaN compares false: the first one wins
  }
  return { firstAt, count, warmup, unknown };
}

export interface Range {
  from: number;
  to: number;
}

/** Send rate over the phase: overall (first request -> last send) and between 10% and 90% of its sends. */
export function throughput(w: Workload, d: Deliveries, r: Range, startedAt: number, bucketMs = 5000) {
  const times: number[] = [];
  for (let i = r.from; i < r.to; i++) if (d.count[i]! > 0 && !isOptedOut(w, i)) times.push(d.firstAt[i]!);
  times.sort((a, b) => a - b);
  const last = times[times.length - 1] ?? startedAt;
  const p10 = percentile(times, 10);
  const p90 = percentile(times, 90);
  const steadySends = Math.round(times.length * 0.8);
  const buckets: number[] = [];
  for (const t of times) {
    const b = Math.floor((t - startedAt) / bucketMs);
    buckets[b] = (buckets[b] ?? 0) + 1;
  }
  return {
    sends: times.length,
    seconds: round2((last - startedAt) / 1000),
    eventsPerSecond: Math.round((times.length / Math.max(1, last - startedAt)) * 1000),
    /** Between the 10th and the 90th percentile of send times: ramp-up and tail left out. */
    steadyEventsPerSecond: p90 > p10 ? Math.round((steadySends / (p90 - p10)) * 1000) : 0,
    [`sendsPerSecondBy${bucketMs / 1000}s`]: Array.from(buckets, (n) =>
      Math.round(((n ?? 0) * 1000) / bucketMs),
    ),
  };
}

/** ingest-ack -> send latency of the phase's delivered events, ms. */
export function latency(w: Workload, ledger: Ledger, d: Deliveries, r: Range) {
  const lat: number[] = [];
  for (let i = r.from; i < r.to; i++) {
    if (isOptedOut(w, i) || d.count[i] === 0 || Number.isNaN(ledger.ackAt[i]!)) continue;
    lat.push(d.firstAt[i]! - ledger.ackAt[i]!);
  }
  const sorted = Float64Array.from(lat).sort();
  return {
    events: sorted.length,
    p50Ms: round1(percentile(sorted, 50)),
    p95Ms: round1(percentile(sorted, 95)),
    p99Ms: round1(percentile(sorted, 99)),
    maxMs: round1(sorted[sorted.length - 1] ?? Number.NaN),
    minMs: round1(sorted[0] ?? Number.NaN),
  };
}

/** Request round trips (POST -> 202), ms. */
export function requestLatency(ms: number[]) {
  const sorted = Float64Array.from(ms).sort();
  return {
    requests: sorted.length,
    p50Ms: round1(percentile(sorted, 50)),
    p99Ms: round1(percentile(sorted, 99)),
  };
}

export function checks(w: Workload, ledger: Ledger, d: Deliveries, simDuplicates: number) {
  let lost = 0;
  let unsafe = 0;
  let sentMoreThanOnce = 0;
  let notAcknowledged = 0;
  let notPosted = 0;
  let sentNotAcknowledged = 0;
  let optedOutEvents = 0;
  for (let i = 0; i < w.total; i++) {
    const acked = !Number.isNaN(ledger.ackAt[i]!);
    const n = d.count[i]!;
    if (!ledger.posted[i]) notPosted++;
    else if (!acked) notAcknowledged++;
    if (!acked) {
      if (n > 0) sentNotAcknowledged++;
    }
    if (n > 1) sentMoreThanOnce += n - 1;
    if (isOptedOut(w, i)) {
      if (acked) optedOutEvents++;
      unsafe += n; // every event of these conversations is the STOP or comes after it
    } else if (acked && n === 0) lost++;
  }
  return {
    /** Every send beyond the first for one event, whatever its action ID. */
    duplicateSends: sentMoreThanOnce,
    /** The sim's own count: a webhook-id accepted twice (warm-up included). */
    simDuplicates,
    unsafeSends: unsafe,
    lostEvents: lost,
    optedOutEventsAcknowledged: optedOutEvents,
    /** Posted, never acknowledged (the request failed after its retries). */
    eventsNotAcknowledged: notAcknowledged,
    /** Never posted: the max-rate phase ran into maxRateSeconds first. */
    eventsNotPosted: notPosted,
    sentButNotAcknowledged: sentNotAcknowledged,
    unknownSends: d.unknown,
  };
}
