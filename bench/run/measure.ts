/**
 * One system through one scenario: warm-up, the phases, the drain, with the tracker polled and the
 * progress line redrawn once a second. The same for Parley and every peer: what differs is only the
 * Submitter the producer uses and the processes whose CPU and memory are read from /proc.
 *
 * CPU per event is taken over the headline phase, from its start until its sends are in (the drain, when
 * it is the last phase), divided by the events acknowledged in it; per process, and the machine's other
 * busy time meanwhile (other work on the same cores shows in the report instead of hiding in the figures).
 */
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { machineBusyMs, processCpuMs, processMemoryMiB } from '../e2e/cpu.js';
import { round2 } from '../e2e/workload.js';
import { headlinePhase, type Scenario } from '../scenario-schema.js';
import { Driver, type PhaseRun, type Submitter, warmUp } from './driver.js';
import { warmupEvent } from './plan.js';
import { type Progress, progressText } from './progress.js';
import type { Tracker } from './tracker.js';

export interface ProcessRef {
  /** e.g. parley-0, nats-server, bullmq-worker, redis-server. */
  name: string;
  pid: number | undefined;
  /** engine: the system's own processes; store: its broker or database. */
  kind: 'engine' | 'store';
}

export interface MeasuredSystem {
  name: string;
  submitter: Submitter;
  sim: SimPlatform;
  processes: ProcessRef[];
  /** Called right before the headline phase and right after its drain (Parley counts writes, scrapes). */
  beforeHeadline?(): Promise<void>;
  afterHeadline?(): Promise<void>;
}

export interface ProcessCpu {
  name: string;
  kind: 'engine' | 'store';
  cpuMs: number | null;
  msPerEvent: number | null;
  cores: number | null;
  peakRssMb: number | null;
}

export interface Measurement {
  phases: PhaseRun[];
  headline: number;
  headlineWindow: { startedAt: number; endedAt: number };
  drained: boolean;
  drainSeconds: number;
  processes: ProcessCpu[];
  benchCpuMsPerEvent: number;
  otherProcessesCores: number | null;
  headlineEvents: number;
  eventsPerSecond: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measure(
  s: Scenario,
  sys: MeasuredSystem,
  tracker: Tracker,
  progress: Progress,
  /** Seconds the systems after this one will take (for the ETA). */
  laterSeconds: number,
): Promise<Measurement> {
  const current = { phase: 'warm-up' };
  const phaseSeconds = s.phases.map((p) => p.seconds);
  let phaseIndex = -1;
  let phaseStarted = Date.now();
  const rssPeak = new Map<string, number>();
  const eta = () => {
    const inPhase =
      phaseIndex >= 0 ? Math.max(0, phaseSeconds[phaseIndex]! - (Date.now() - phaseStarted) / 1000) : 0;
    const after = phaseSeconds.slice(Math.max(0, phaseIndex + 1)).reduce((a, b) => a + b, 0);
    return inPhase + after + laterSeconds;
  };
  const timer = setInterval(() => {
    tracker.poll(sys.sim.sends());
    const point = tracker.tick(current.phase);
    for (const p of sys.processes) {
      const rss = processMemoryMiB(p.pid).rss;
      if (rss !== undefined) rssPeak.set(p.name, Math.max(rssPeak.get(p.name) ?? 0, rss));
    }
    progress.line(
      progressText({
        system: sys.name,
        phase: current.phase,
        posted: point.posted,
        acked: point.acked,
        delivered: point.delivered,
        rate: point.deliveredPerSecond,
        p99Ms: tracker.p99SoFar(),
        etaSeconds: eta(),
      }),
    );
  }, 1000);
  try {
    await warmUp(
      sys.submitter,
      tracker.plan.runId,
      s.warmup,
      () => {
        tracker.poll(sys.sim.sends());
        return tracker.warmupSends;
      },
      warmupEvent,
    );
    const driver = new Driver(s, tracker.plan, tracker, sys.submitter);
    const headline = headlinePhase(s);
    const runs: PhaseRun[] = [];
    let before: Array<number | undefined> = [];
    let busyBefore: number | undefined;
    let benchBefore = 0;
    let window = { startedAt: 0, endedAt: 0 };
    let drained = true;
    let drainSeconds = 0;
    const cpuNow = () => sys.processes.map((p) => processCpuMs(p.pid));
    const benchCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    let after: Array<number | undefined> = [];
    let busyAfter: number | undefined;
    let benchAfter = 0;
    tracker.origin = Date.now();
    tracker.tick('warm-up'); // the first point's rates start here
    for (let k = 0; k < s.phases.length; k++) {
      phaseIndex = k;
      phaseStarted = Date.now();
      if (k === headline) {
        await sys.beforeHeadline?.();
        before = cpuNow();
        busyBefore = machineBusyMs();
        benchBefore = benchCpu();
        window.startedAt = Date.now();
      }
      const headlineRate = k > headline ? eventsPerSecond(runs[headline]!, window) : 0;
      runs.push(await driver.runPhase(k, s.phases[k]!, current, headlineRate));
      const last = k === s.phases.length - 1;
      if (last || k === headline) {
        // The headline's own sends are waited for before the next phase, so its CPU and rate include them.
        current.phase = last ? 'drain' : `${s.phases[k]!.name} drain`;
        const d = await drain(s, tracker, sys, last ? undefined : k);
        drained &&= d.drained;
        drainSeconds += d.seconds;
      }
      if (k === headline) {
        tracker.poll(sys.sim.sends());
        const e = tracker.expected(k);
        window = { startedAt: window.startedAt, endedAt: Math.max(runs[k]!.endedAt, e.lastAt) };
        after = cpuNow();
        busyAfter = machineBusyMs();
        benchAfter = benchCpu();
        await sys.afterHeadline?.();
      }
    }
    tracker.poll(sys.sim.sends());
    tracker.tick(current.phase);
    const events = Math.max(1, runs[headline]!.acked);
    const wallMs = Math.max(1, window.endedAt - window.startedAt);
    const processes: ProcessCpu[] = sys.processes.map((p, i) => {
      const a = before[i];
      const b = after[i];
      const ms = a === undefined || b === undefined ? null : b - a;
      const peak = processMemoryMiB(p.pid).peak ?? rssPeak.get(p.name) ?? null;
      return {
        name: p.name,
        kind: p.kind,
        cpuMs: ms,
        msPerEvent: ms === null ? null : round2(ms / events),
        cores: ms === null ? null : round2(ms / wallMs),
        peakRssMb: peak,
      };
    });
    const ours = processes.reduce((a, p) => a + (p.cpuMs ?? 0), 0) + (benchAfter - benchBefore);
    return {
      phases: runs,
      headline,
      headlineWindow: window,
      drained,
      drainSeconds,
      processes,
      benchCpuMsPerEvent: round2((benchAfter - benchBefore) / events),
      otherProcessesCores:
        busyBefore === undefined || busyAfter === undefined
          ? null
          : round2(Math.max(0, busyAfter - busyBefore - ours) / wallMs),
      headlineEvents: runs[headline]!.acked,
      eventsPerSecond: eventsPerSecond(runs[headline]!, window),
    };
  } finally {
    clearInterval(timer);
    progress.done();
  }
}

const eventsPerSecond = (run: PhaseRun, window: { startedAt: number; endedAt: number }) =>
  Math.round((run.acked / Math.max(1, window.endedAt - window.startedAt)) * 1000);

/** Waits until every acknowledged event (of `phase`, or all) that expects a send has it; capped, or stalled. */
async function drain(s: Scenario, tracker: Tracker, sys: MeasuredSystem, phase?: number) {
  const started = Date.now();
  let last = tracker.delivered;
  let lastChange = started;
  for (;;) {
    tracker.poll(sys.sim.sends());
    let waiting = 0;
    for (let k = 0; k < s.phases.length; k++) {
      if (phase !== undefined && k !== phase) continue;
      const e = tracker.expected(k);
      waiting += e.expected - e.delivered;
    }
    if (waiting <= 0) return { drained: true, seconds: round2((Date.now() - started) / 1000) };
    const now = Date.now();
    if (tracker.delivered !== last) {
      last = tracker.delivered;
      lastChange = now;
    }
    if (now - started > s.drainSeconds * 1000 || now - lastChange > s.stallSeconds * 1000)
      return { drained: false, seconds: round2((now - started) / 1000) };
    await sleep(250);
  }
}
