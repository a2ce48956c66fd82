/**
 * `parley bench <scenario.yaml>`: Parley, then each requested peer, through the same scenario with the
 * same producer (driver.ts), receiver (the simulated platform in this process) and checker (tracker.ts),
 * one after the other on the same machine, so their figures compare as ratios measured in one run. Parley
 * also gets its JetStream writes per event counted from the streams, its per-stage latency from its own
 * histograms, and the raw JetStream ceiling for those writes (Parley stopped, same server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimPlatform } from '../../src/sim/sim-platform.js';
import { rawCeiling, type StreamCounts, streamCounts, writesBetween } from '../e2e/ceiling.js';
import { processMemoryMiB } from '../e2e/cpu.js';
import { projectRoot } from '../e2e/parley-child.js';
import { Ledger, round2 } from '../e2e/workload.js';
import { startBullmqPeer } from '../peers/bullmq.js';
import { startRestatePeer } from '../peers/restate.js';
import type { PeerName, Scenario } from '../scenario-schema.js';
import { type Measurement, measure } from './measure.js';
import { startParleySystem } from './parley-system.js';
import { plan } from './plan.js';
import type { Progress } from './progress.js';
import { type BenchRunReport, buildRunReport, type SystemReport, systemReport } from './report.js';
import { type Scrape, scrape, stageLatency } from './stage-metrics.js';
import { Tracker } from './tracker.js';

export interface RunOptions {
  file: string;
  peers: PeerName[];
  progress: Progress;
}

const systemSeconds = (s: Scenario) => s.phases.reduce((a, p) => a + p.seconds, 0) + 15;

function newSim(s: Scenario): SimPlatform {
  return new SimPlatform({
    perSecond: s.platform.perSecond,
    burst: s.platform.burst ?? s.platform.perSecond,
    failureRate: s.platform.failureRate,
    latencyMs: s.platform.latencyMs,
  });
}

function ledgerFor(total: number, runId: string, conversations: number): Ledger {
  return new Ledger({ runId, conversations, eventsPerConversation: 0, optOut: 0, total });
}

async function runParley(s: Scenario, o: RunOptions, root: string, later: number) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-run-'));
  const runId = `p${Date.now().toString(36)}`;
  const p = plan(s, runId);
  const ledger = ledgerFor(p.total, runId, p.conversations);
  const tracker = new Tracker(p, ledger, s.phases.length);
  const sim = newSim(s);
  await sim.start();
  const system = await startParleySystem(s, { dir, root, simUrl: sim.url, ledger }).catch(async (err) => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  let m: Measurement | undefined;
  let before: StreamCounts | undefined;
  let after: StreamCounts | undefined;
  let scrapeBefore: Scrape | undefined;
  let scrapeAfter: Scrape | undefined;
  const urls = system.children.map((c) => c.url);
  try {
    m = await measure(
      s,
      {
        name: 'parley',
        submitter: system.submitter,
        sim,
        processes: [
          ...system.children.map((c, k) => ({ name: `parley-${k}`, pid: c.pid, kind: 'engine' as const })),
          { name: 'nats-server', pid: system.natsPid, kind: 'store' as const },
        ],
        async beforeHeadline() {
          before = await streamCounts(system.h);
          scrapeBefore = await scrape(urls);
        },
        async afterHeadline() {
          after = await streamCounts(system.h);
          scrapeAfter = await scrape(urls);
        },
      },
      tracker,
      o.progress,
      later,
    );
    const memory = system.children.map((c) => processMemoryMiB(c.pid));
    const natsMemory = processMemoryMiB(system.natsPid);
    const warnings = system.children.flatMap((c) => c.warnings()).slice(0, 5);
    const exits = await system.stopParley();
    const events = Math.max(1, m.headlineEvents);
    const writes = before && after ? writesBetween(before, after) : undefined;
    let ceiling: BenchRunReport['ceiling'] = null;
    if (s.ceiling.enabled && writes && m.headlineEvents > 0) {
      o.progress.line('[parley] raw JetStream ceiling for the same writes per event ...');
      const c = await rawCeiling(system.h, {
        events: s.ceiling.events,
        deadlineMs: s.ceiling.seconds * 1000,
        kvPerEvent: writes.kv / events,
        publishesPerEvent: writes.streams / events,
        payloadBytes: writes.avgBytes,
        pullBatch: 512,
      });
      o.progress.done();
      ceiling = {
        eventsPerSecond: c.eventsPerSecond,
        ratio: round2(m.eventsPerSecond / Math.max(1, c.eventsPerSecond)),
        events: c.events,
        timedOut: c.timedOut,
        loop: 'fetch 512 from EVENTS -> per event the same KV puts + publishes, awaited together -> ack',
      };
    }
    const report = systemReport(
      s,
      'parley',
      `Parley, ${s.parley.processes} process(es), every role, + nats-server`,
      m,
      tracker,
      sim,
    );
    report.latency.stages = {
      ...report.latency.stages,
      ...(scrapeBefore && scrapeAfter ? stageLatency(scrapeBefore, scrapeAfter) : {}),
    };
    return {
      report,
      natsVersion: system.natsVersion,
      ceiling,
      writes: writes
        ? {
            perEvent: round2(writes.total / events),
            kvPerEvent: round2(writes.kv / events),
            streamPublishesPerEvent: round2(writes.streams / events),
            byStream: Object.fromEntries(
              Object.entries(writes.byStream)
                .sort((a, b) => b[1] - a[1])
                .map(([k, v]) => [k, round2(v / events)]),
            ),
          }
        : null,
      parleyRssMb: Math.max(...memory.map((x) => x.rss ?? 0)),
      parleyPeakRssMb: Math.max(...memory.map((x) => x.peak ?? 0)),
      natsPeakRssMb: natsMemory.peak ?? null,
      exits,
      warnings,
      escalations: after?.get('ESCALATIONS')?.messages ?? null,
      deadLetters: after?.get('DLQ')?.messages ?? null,
    };
  } finally {
    await system.submitter.close();
    await system.stop();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runPeer(
  s: Scenario,
  name: PeerName,
  o: RunOptions,
  root: string,
  later: number,
): Promise<SystemReport> {
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-${name}-`));
  const runId = `${name === 'bullmq' ? 'u' : 'o'}${Date.now().toString(36)}`;
  const p = plan(s, runId);
  const ledger = ledgerFor(p.total, runId, p.conversations);
  const tracker = new Tracker(p, ledger, s.phases.length);
  const sim = newSim(s);
  await sim.start();
  try {
    const note = (t: string) => (o.progress.enabled ? o.progress.note(t) : process.stderr.write(`${t}\n`));
    const peer =
      name === 'restate'
        ? await startRestatePeer({ root, dir, simUrl: sim.url, ledger, note })
        : await startBullmqPeer(name === 'bullmq-ordered', {
            root,
            dir,
            simUrl: sim.url,
            ledger,
            conversationIndex: p.conversationIndex,
            note,
          });
    try {
      const m = await measure(
        s,
        { name, submitter: peer.submitter, sim, processes: peer.processes },
        tracker,
        o.progress,
        later,
      );
      const r = systemReport(s, name, peer.description, m, tracker, sim);
      r.versions = peer.versions;
      return r;
    } finally {
      await peer.submitter.close();
      await peer.stop();
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runScenario(s: Scenario, o: RunOptions): Promise<BenchRunReport> {
  const root = projectRoot(import.meta.dirname);
  const startedAt = new Date().toISOString();
  const loadStart = loadavg().map(round2);
  const t0 = Date.now();
  const later = (k: number) => (o.peers.length - k) * systemSeconds(s);
  const parley = await runParley(s, o, root, later(0));
  const peers: SystemReport[] = [];
  for (let k = 0; k < o.peers.length; k++) peers.push(await runPeer(s, o.peers[k]!, o, root, later(k + 1)));
  return buildRunReport({ s, file: o.file, startedAt, t0, loadStart, parley, peers });
}
