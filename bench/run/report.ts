/**
 * The report of `parley bench <scenario.yaml>`: one system's figures (systemReport), the run's shape
 * (BenchRunReport, what --json writes), and the short text summary printed at the end. Field names are a
 * contract for whoever reads the JSON (test/unit/bench-report.test.ts checks the shape).
 */
import { cpus, loadavg, totalmem } from 'node:os';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { round2 } from '../e2e/workload.js';
import { latencyPhase, type Scenario } from '../scenario-schema.js';
import type { Measurement, ProcessCpu } from './measure.js';
import type { StageLatency } from './stage-metrics.js';
import type { Percentiles, TimelinePoint, Tracker } from './tracker.js';

export interface Counters {
  duplicates: number;
  unsafe: number;
  lost: number;
  orderViolations: number;
}

export interface SystemReport {
  name: string;
  description: string;
  versions?: Record<string, string>;
  throughput: {
    /** Headline phase: events acknowledged in it / (phase start -> its last send delivered). */
    eventsPerSecond: number;
    events: number;
    sendsPerSecond: number;
  };
  latency: {
    /** The phase e2e is from (latencyPhase in the scenario). */
    phase: string;
    /** Ingest acknowledged -> the platform received the event's send, ms. */
    e2e: Percentiles;
    stages: Record<string, StageLatency | Percentiles>;
  };
  cpu: {
    processes: ProcessCpu[];
    benchMsPerEvent: number;
    /** Every process of the system (engine and store), not the bench. */
    totalMsPerEvent: number;
    otherProcessesCores: number | null;
  };
  correctness: Counters & {
    counters: Counters;
    drained: boolean;
    notAcknowledged: number;
    unknownSends: number;
  };
  sends: Record<string, number>;
  platform: { accepted: number; rateLimited: number; failed: number; replays: number; duplicates: number };
  phases: Array<{
    name: string;
    seconds: number;
    rate: unknown;
    offered: unknown;
    events: number;
    ackedPerSecond: number;
    latency: Percentiles;
    maxBacklog: number;
    maxLagMs: number;
    supplyExhausted: boolean;
  }>;
  timeline: TimelinePoint[];
  ratios?: { throughput: number | null; p99: number | null; cpuPerEvent: number | null };
}

export function systemReport(
  s: Scenario,
  name: string,
  description: string,
  m: Measurement,
  tracker: Tracker,
  sim: SimPlatform,
): SystemReport {
  const counters: Counters = {
    duplicates: tracker.duplicates,
    unsafe: tracker.unsafe,
    lost: tracker.lost(),
    orderViolations: tracker.orderViolations,
  };
  const stats = sim.stats();
  const wallS = Math.max(0.001, (m.headlineWindow.endedAt - m.headlineWindow.startedAt) / 1000);
  const headlineSends = tracker.expected(m.headline).delivered;
  const total = m.processes.reduce((a, p) => a + (p.msPerEvent ?? 0), 0);
  return {
    name,
    description,
    throughput: {
      eventsPerSecond: m.eventsPerSecond,
      events: m.headlineEvents,
      sendsPerSecond: Math.round(headlineSends / wallS),
    },
    latency: {
      phase: s.phases[latencyPhase(s)]!.name,
      e2e: tracker.phaseLatency(latencyPhase(s)),
      stages: {},
    },
    cpu: {
      processes: m.processes,
      benchMsPerEvent: m.benchCpuMsPerEvent,
      totalMsPerEvent: round2(total),
      otherProcessesCores: m.otherProcessesCores,
    },
    correctness: {
      ...counters,
      counters,
      drained: m.drained,
      notAcknowledged: tracker.ledger.postedCount - tracker.ledger.ackedCount,
      unknownSends: tracker.unknownSends,
    },
    sends: {
      ...tracker.byKind,
      ...Object.fromEntries(Object.entries(tracker.byTemplate).map(([k, v]) => [`template:${k}`, v])),
    },
    platform: {
      accepted: stats.accepted,
      rateLimited: stats.rateLimited,
      failed: stats.failed,
      replays: stats.replays,
      duplicates: stats.duplicates,
    },
    phases: m.phases.map((r, k) => ({
      name: r.name,
      seconds: round2((r.endedAt - r.startedAt) / 1000),
      rate: r.rate,
      offered: s.phases[k]!.rate,
      events: r.acked,
      ackedPerSecond: Math.round((r.acked / Math.max(1, r.endedAt - r.startedAt)) * 1000),
      latency: tracker.phaseLatency(k),
      maxBacklog: r.maxBacklog,
      maxLagMs: r.maxLagMs,
      supplyExhausted: r.supplyExhausted,
    })),
    timeline: tracker.timeline,
  };
}

export interface BenchRunReport {
  scenario: string;
  description: string;
  file: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: {
    cores: number;
    cpuModel: string;
    memoryGb: number;
    node: string;
    natsServer: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  settings: Scenario;
  throughput: SystemReport['throughput'];
  latency: SystemReport['latency'];
  ceiling: { eventsPerSecond: number; ratio: number; events: number; timedOut: boolean; loop: string } | null;
  writesPerEvent: number | null;
  writes: {
    perEvent: number;
    kvPerEvent: number;
    streamPublishesPerEvent: number;
    byStream: Record<string, number>;
  } | null;
  zodPassesPerEvent: number | null;
  zodPassesNote: string;
  cpu: {
    parleyMsPerEvent: number;
    natsMsPerEvent: number;
    benchMsPerEvent: number;
    totalMsPerEvent: number;
    processes: ProcessCpu[];
    otherProcessesCores: number | null;
  };
  correctness: SystemReport['correctness'];
  memory: { parleyRssMb: number; parleyRssAtEndMb: number; natsPeakRssMb: number | null };
  sends: Record<string, number>;
  platform: SystemReport['platform'];
  phases: SystemReport['phases'];
  timeline: TimelinePoint[];
  parleyProcess: {
    exits: string[];
    escalations: number | null;
    deadLetters: number | null;
    warnings: string[];
  };
  peers: SystemReport[];
  /** Every correctness counter of Parley is 0. */
  pass: boolean;
}

const n = (x: number | null | undefined, unit = '') =>
  x === null || x === undefined ? 'n/a' : `${x}${unit}`;

/** The few lines printed at the end when not --json. */
export function summaryText(r: BenchRunReport): string {
  const c = r.correctness;
  const lines = [
    `scenario ${r.scenario} (${r.file}), ${r.startedAt}, ${r.durationSeconds} s`,
    `machine: ${r.machine.cores} cores, ${r.machine.memoryGb} GB, node ${r.machine.node}, nats-server ${r.machine.natsServer}, load average ${r.machine.loadAverageAtStart.join(' ')} -> ${r.machine.loadAverageAtEnd.join(' ')}`,
    `parley: ${r.throughput.eventsPerSecond} events/s (headline phase), ack -> send (${r.latency.phase}) p50 ${r.latency.e2e.p50Ms} ms, p95 ${r.latency.e2e.p95Ms} ms, p99 ${r.latency.e2e.p99Ms} ms, max ${r.latency.e2e.maxMs} ms`,
    `  CPU per event: parley ${r.cpu.parleyMsPerEvent} ms, nats-server ${r.cpu.natsMsPerEvent} ms; JetStream writes per event ${n(r.writesPerEvent)}; peak RSS ${r.memory.parleyRssMb} MiB`,
    `  raw ceiling for the same writes: ${r.ceiling ? `${r.ceiling.eventsPerSecond} events/s (Parley at ${r.ceiling.ratio})` : 'not measured'}`,
    `  correctness: duplicates ${c.duplicates}, unsafe ${c.unsafe}, lost ${c.lost}, order violations ${c.orderViolations}${c.drained ? '' : ' (drain cut short)'} -> ${r.pass ? 'PASS' : 'FAIL'}`,
  ];
  for (const p of r.peers) {
    const pc = p.correctness;
    lines.push(
      `${p.name}: ${p.throughput.eventsPerSecond} events/s, p99 ${p.latency.e2e.p99Ms} ms, CPU ${p.cpu.totalMsPerEvent} ms/event (${p.cpu.processes.map((x) => `${x.name} ${n(x.msPerEvent)}`).join(', ')}); duplicates ${pc.duplicates}, unsafe ${pc.unsafe}, lost ${pc.lost}, order ${pc.orderViolations}`,
      `  parley / ${p.name}: throughput x${n(p.ratios?.throughput)}, p99 x${n(p.ratios?.p99)}, CPU per event x${n(p.ratios?.cpuPerEvent)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** What the Parley run contributes beyond its SystemReport. */
export interface ParleyRun {
  report: SystemReport;
  natsVersion: string;
  ceiling: BenchRunReport['ceiling'];
  writes: BenchRunReport['writes'];
  parleyRssMb: number;
  parleyPeakRssMb: number;
  natsPeakRssMb: number | null;
  exits: string[];
  warnings: string[];
  escalations: number | null;
  deadLetters: number | null;
}

/** The run's report from Parley's and the peers' figures, with Parley's ratios to each peer. */
export function buildRunReport(a: {
  s: Scenario;
  file: string;
  startedAt: string;
  t0: number;
  loadStart: number[];
  parley: ParleyRun;
  peers: SystemReport[];
}): BenchRunReport {
  const { s, parley, peers, startedAt, t0, loadStart } = a;
  const o = { file: a.file };
  const p = parley.report;
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : round2(a / b);
  const sumCpu = (r: SystemReport) => r.cpu.totalMsPerEvent;
  const engine = p.cpu.processes.filter((x) => x.kind === 'engine');
  const store = p.cpu.processes.filter((x) => x.kind === 'store');
  const sum = (xs: typeof engine) => round2(xs.reduce((a, x) => a + (x.msPerEvent ?? 0), 0));
  return {
    scenario: s.name,
    description: s.description,
    file: o.file,
    startedAt,
    finishedAt: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: round2(totalmem() / 1024 ** 3),
      node: process.version,
      natsServer: parley.natsVersion,
      loadAverageAtStart: loadStart,
      loadAverageAtEnd: loadavg().map(round2),
    },
    settings: s,
    throughput: p.throughput,
    latency: p.latency,
    ceiling: parley.ceiling,
    writesPerEvent: parley.writes?.perEvent ?? null,
    writes: parley.writes,
    zodPassesPerEvent: null,
    zodPassesNote: 'not countable from outside the Parley process (no metric counts schema passes yet)',
    cpu: {
      parleyMsPerEvent: sum(engine),
      natsMsPerEvent: sum(store),
      benchMsPerEvent: p.cpu.benchMsPerEvent,
      totalMsPerEvent: p.cpu.totalMsPerEvent,
      processes: p.cpu.processes,
      otherProcessesCores: p.cpu.otherProcessesCores,
    },
    correctness: p.correctness,
    memory: {
      parleyRssMb: parley.parleyPeakRssMb,
      parleyRssAtEndMb: parley.parleyRssMb,
      natsPeakRssMb: parley.natsPeakRssMb,
    },
    sends: p.sends,
    platform: p.platform,
    phases: p.phases,
    timeline: p.timeline,
    parleyProcess: {
      exits: parley.exits,
      escalations: parley.escalations,
      deadLetters: parley.deadLetters,
      warnings: parley.warnings,
    },
    peers: peers.map((r) => ({
      ...r,
      ratios: {
        throughput: ratio(p.throughput.eventsPerSecond, r.throughput.eventsPerSecond),
        p99: ratio(p.latency.e2e.p99Ms, r.latency.e2e.p99Ms),
        cpuPerEvent: ratio(sumCpu(p), sumCpu(r)),
      },
    })),
    pass: Object.values(p.correctness.counters).every((n) => n === 0),
  };
}
