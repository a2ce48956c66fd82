/**
 * e2e: the SPEC's performance targets, end to end. One local nats-server and ONE Parley process (a child
 * running `parley start`: ingest, actors and connectors, launched like this bench: the bundle or tsx) with
 * the echo rule (one webhook per message.received); this process generates the load over loopback HTTP and
 * is the webhook receiver (the simulated platform).
 *
 * The simulated platform runs here, not inside Parley (simPlatform.enabled), on purpose: it stands for an
 * external API, so its request handling, and the send log it keeps for the analysis (every delivery with
 * headers and body), must not be billed to Parley's event loop, CPU time or resident memory. Both clocks
 * are this process's Date.now(), so ack and receive times compare directly (1 ms resolution).
 *
 * Phases, each bounded in count and time, over conversations x events message.received events:
 *  1. warm-up on separate conversations (JIT, connections, consumers), not counted;
 *  2. max rate: a few keep-alive clients post batches back to back, holding at most maxBacklog
 *     acknowledged-but-unsent events (closed loop), for the first total - rate x pacedSeconds events or
 *     maxRateSeconds: sustained events/s from ingest acknowledged to send accepted by the platform;
 *  3. paced: the last rate x pacedSeconds events at `rate` events/s: latency from the ingest ack (the 202
 *     answering the request that carried the event) to the platform receiving its webhook (body event.id);
 *  4. Parley stopped; the raw JetStream ceiling for the writes per event counted in phase 2 (every
 *     stream's last sequence before and after), in this process with Parley's client options, same server.
 * Checks: duplicate sends, unsafe sends (the first `optOut` conversations open with STOP, so nothing may be
 * sent to them), lost events (acknowledged, not opted out, never sent). Parley's CPU time and peak RSS come
 * from /proc, as does the CPU other processes took meanwhile. `cpuProf=<dir>` runs Parley with --cpu-prof
 * and summarises its main thread's profile.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectNats, type NatsHandles } from '../../src/nats/connection.js';
import { type RunningNatsServer, startNatsServer } from '../../src/nats/embedded-server.js';
import { SimPlatform } from '../../src/sim/sim-platform.js';
import { checks, deliveries, latency, requestLatency, throughput } from '../e2e/analysis.js';
import { rawCeiling, streamCounts, type WriteCount, writesBetween } from '../e2e/ceiling.js';
import { cpuBetween, cpuSnapshot, processMemoryMiB } from '../e2e/cpu.js';
import { mainThreadProfile, summarizeProfile } from '../e2e/cpu-profile.js';
import { IngestClient, maxRate, paced } from '../e2e/load.js';
import { freePort, type ParleyChild, projectRoot, spawnParley } from '../e2e/parley-child.js';
import { Ledger, round2, type Workload, warmupEvent, workload } from '../e2e/workload.js';
import type { BenchReport } from '../harness.js';

export interface E2eOptions {
  conversations: number;
  /** Events per conversation. */
  events: number;
  /** Conversations whose fan opens with STOP (counted in `conversations`). */
  optOut: number;
  partitions: number;
  /** Max-rate phase: events per request, concurrent clients, acknowledged-but-unsent bound (0 = open loop). */
  batch: number;
  clients: number;
  maxBacklog: number;
  maxRateSeconds: number;
  /** Paced phase: events/s, its length, events per request. */
  rate: number;
  pacedSeconds: number;
  pacedBatch: number;
  warmup: number;
  /** Longest wait for the sends of a phase once its load is in; a stall of stallSeconds ends it sooner. */
  drainSeconds: number;
  stallSeconds: number;
  ceiling: boolean;
  ceilingEvents: number;
  ceilingSeconds: number;
  /** Parley's log level (info is the production default). */
  logLevel: string;
  /** Directory for a --cpu-prof profile of the Parley process; empty = no profile. */
  cpuProf: string;
  /** Extra node flags for the Parley process, space separated (e.g. --max-semi-space-size=64). */
  nodeFlags: string;
}

export const e2eDefaults: E2eOptions = {
  conversations: 10_000,
  events: 20,
  optOut: 300,
  partitions: 64,
  batch: 100,
  clients: 4,
  maxBacklog: 5000,
  maxRateSeconds: 100,
  rate: 1000,
  pacedSeconds: 20,
  pacedBatch: 50,
  warmup: 3000,
  drainSeconds: 60,
  stallSeconds: 10,
  ceiling: true,
  ceilingEvents: 50_000,
  ceilingSeconds: 40,
  logLevel: 'info',
  cpuProf: '',
  nodeFlags: '',
};

/** Waits for `check`; false when `capMs` passed, or `progress` stood still for `stallMs`. */
async function until(check: () => boolean, capMs: number, stallMs: number, progress: () => number) {
  const started = Date.now();
  let last = progress();
  let lastChange = started;
  while (!check()) {
    const now = Date.now();
    if (now - started > capMs || now - lastChange > stallMs) return false;
    await new Promise((r) => setTimeout(r, 20));
    const p = progress();
    if (p !== last) {
      last = p;
      lastChange = Date.now();
    }
  }
  return true;
}

async function startServer(
  partitions: number,
  dir: string,
): Promise<{ url: string; server?: RunningNatsServer }> {
  if (process.env.NATS_URL) return { url: process.env.NATS_URL };
  const server = await startNatsServer({
    port: -1,
    storeDir: join(dir, 'store'),
    configPath: join(dir, 'nats.conf'),
    logFile: join(dir, 'nats.log'),
    partitions,
  });
  return { url: server.url, server };
}

/** Parley's config for the run: the bench server, one tenant, the echo rule's webhook to the sim platform. */
function parleyConfig(
  o: E2eOptions,
  at: { dir: string; root: string; natsUrl: string; port: number; simUrl: string; token: string },
) {
  const { dir, root, natsUrl, port, simUrl, token } = at;
  mkdirSync(join(dir, 'rules'));
  writeFileSync(
    join(dir, 'rules', 'echo.yaml'),
    'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack\n',
  );
  const config = {
    dataDir: join(dir, 'parley'),
    nats: { url: natsUrl },
    http: { host: '127.0.0.1', port },
    partitions: o.partitions,
    rules: join(dir, 'rules'),
    streams: join(root, 'streams'),
    log: { level: o.logLevel },
    tenants: {
      bench: {
        auth: { tokens: [token] },
        channels: {
          webhook: {
            url: `${simUrl}/hooks/bench`,
            secret: `whsec_${randomBytes(24).toString('base64')}`,
            // Exercised (token leases in KV) but never the limit.
            rate: { perSecond: 1_000_000, burst: 100_000 },
          },
        },
      },
    },
  };
  const file = join(dir, 'parley.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
  return file;
}

async function warmUp(client: IngestClient, w: Workload, o: E2eOptions, accepted: () => number) {
  const occurredAt = new Date().toISOString();
  const conversations = Math.max(1, Math.min(500, o.warmup));
  for (let k = 0; k < o.warmup; k += o.batch) {
    const events = Array.from({ length: Math.min(o.batch, o.warmup - k) }, (_, j) =>
      warmupEvent(w, k + j, conversations, occurredAt),
    );
    await client.send(
      events,
      events.map(() => -1),
    );
  }
  if (!(await until(() => accepted() >= o.warmup, 60_000, 20_000, accepted)))
    throw new Error(`bench: warm-up sends did not arrive (${accepted()}/${o.warmup})`);
}

const perStream = (c: WriteCount, events: number) => ({
  total: round2(c.total / Math.max(1, events)),
  ...Object.fromEntries(
    Object.entries(c.byStream)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, round2(v / Math.max(1, events))]),
  ),
});

const pass = (ok: boolean, measured: unknown) => `${ok ? 'pass' : 'FAIL'} (${measured})`;

export async function runE2e(o: E2eOptions): Promise<BenchReport> {
  const w = workload(o.conversations, o.events, o.optOut);
  const pacedCount = Math.min(w.total, Math.round(o.rate * o.pacedSeconds));
  const maxTo = w.total - pacedCount;
  const maxRange = { from: 0, to: maxTo };
  const pacedRange = { from: maxTo, to: w.total };
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-e2e-'));
  const root = projectRoot(import.meta.dirname);
  const token = `bench-${randomBytes(12).toString('hex')}`;
  const machine = { cpus: cpus().length, node: process.version, loadAverageAtStart: loadavg().map(round2) };
  let nats: { url: string; server?: RunningNatsServer } | undefined;
  let parley: ParleyChild | undefined;
  let h: NatsHandles | undefined;
  const sim = new SimPlatform({ perSecond: 1e9, burst: 1e9 });
  const ledger = new Ledger(w);
  let client: IngestClient | undefined;
  try {
    nats = await startServer(o.partitions, join(dir, 'nats'));
    const natsPid = nats.server?.pid;
    await sim.start();
    const port = await freePort();
    const configFile = parleyConfig(o, {
      dir,
      root,
      natsUrl: nats.url,
      port,
      simUrl: sim.url,
      token,
    });
    const profDir = o.cpuProf ? resolve(o.cpuProf) : undefined;
    if (profDir) mkdirSync(profDir, { recursive: true });
    parley = await spawnParley({
      configFile,
      url: `http://127.0.0.1:${port}`,
      cwd: root,
      nodeFlags: [
        ...o.nodeFlags.split(' ').filter(Boolean),
        ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      ],
    });
    h = await connectNats({ url: nats.url, name: 'bench-e2e', reconnect: false });
    client = new IngestClient(parley.url, token, Math.max(o.clients, 32), ledger);
    const accepted = () => sim.stats().byChannel.webhook?.accepted ?? 0;

    // 1. warm-up
    await warmUp(client, w, o, accepted);

    // 2. max rate
    const before = await streamCounts(h);
    const s0 = cpuSnapshot(parley.pid, natsPid);
    const base = accepted();
    const maxLoad = await maxRate(client, ledger, {
      ...maxRange,
      batch: o.batch,
      clients: o.clients,
      maxBacklog: o.maxBacklog,
      deadlineMs: o.maxRateSeconds * 1000,
      delivered: () => accepted() - base,
    });
    const maxDrained = await until(
      () => accepted() - base >= maxLoad.expected,
      o.drainSeconds * 1000,
      o.stallSeconds * 1000,
      accepted,
    );
    const s1 = cpuSnapshot(parley.pid, natsPid);
    const afterMax = await streamCounts(h);
    const maxRequests = requestLatency(client.requestMs.splice(0));

    // 3. paced
    const base2 = accepted();
    const pacedLoad = await paced(client, ledger, {
      ...pacedRange,
      rate: o.rate,
      batch: o.pacedBatch,
      deadlineMs: (o.pacedSeconds + 10) * 1000,
    });
    const pacedDrained = await until(
      () => accepted() - base2 >= pacedLoad.expected,
      o.drainSeconds * 1000,
      o.stallSeconds * 1000,
      accepted,
    );
    const s2 = cpuSnapshot(parley.pid, natsPid);
    const afterPaced = await streamCounts(h);
    const pacedRequests = requestLatency(client.requestMs.splice(0));
    const memory = processMemoryMiB(parley.pid);
    const warnings = parley.warnings();
    const exit = await parley.stop();

    // 4. the raw ceiling, Parley stopped
    const writes = writesBetween(before, afterMax);
    const d = deliveries(w, sim.sends({ channel: 'webhook' }));
    const tput = throughput(w, d, maxRange, maxLoad.startedAt);
    const e2eRate = tput.steadyEventsPerSecond;
    let ceiling: Record<string, unknown> | undefined;
    if (o.ceiling && maxLoad.acked > 0) {
      const c0 = cpuSnapshot(undefined, natsPid);
      const result = await rawCeiling(h, {
        events: o.ceilingEvents,
        deadlineMs: o.ceilingSeconds * 1000,
        kvPerEvent: writes.kv / maxLoad.acked,
        publishesPerEvent: writes.streams / maxLoad.acked,
        payloadBytes: writes.avgBytes,
        pullBatch: 512,
      });
      const cpu = cpuBetween(c0, cpuSnapshot(undefined, natsPid), result.events);
      ceiling = {
        loop: 'fetch 512 from EVENTS -> per event the KV puts + publishes below, awaited together -> ack',
        writesPerEvent: round2(writes.total / maxLoad.acked),
        kvWritesPerEvent: round2(writes.kv / maxLoad.acked),
        streamPublishesPerEvent: round2(writes.streams / maxLoad.acked),
        payloadBytes: writes.avgBytes,
        events: result.events,
        eventsPerSecond: result.eventsPerSecond,
        timedOut: result.timedOut,
        cpu: {
          loopProcess: cpu.benchDriver,
          natsServer: cpu.natsServer,
          otherProcessesCores: cpu.otherProcessesCores,
        },
        e2eFraction: round2(e2eRate / result.eventsPerSecond),
      };
    }
    let profile: Record<string, unknown> | undefined;
    if (profDir) {
      const file = mainThreadProfile(profDir, parley.pid);
      profile = file
        ? { ...summarizeProfile(file) }
        : { error: `no main-thread .cpuprofile in ${profDir} (exit ${exit})` };
    }

    const pacedLatency = latency(w, ledger, d, pacedRange);
    const safety = { ...checks(w, ledger, d, sim.stats().duplicates) };
    return {
      scenario: 'e2e',
      machine,
      workload: {
        conversations: o.conversations,
        eventsPerConversation: o.events,
        events: w.total,
        optedOutConversations: w.optOut,
        partitions: o.partitions,
        rule: 'echo (one webhook per message.received)',
        parley: `one child process, every role, log ${o.logLevel}${o.nodeFlags ? `, node ${o.nodeFlags}` : ''}`,
        webhookReceiver: 'simulated platform in the bench process',
      },
      targets: {
        sustained3000PerSecond: pass(e2eRate >= 3000, `${e2eRate} events/s`),
        halfOfRawCeiling: ceiling
          ? pass(Number(ceiling.e2eFraction) >= 0.5, ceiling.e2eFraction)
          : 'not measured',
        p99Within50MsAt1000PerSecond:
          o.rate === 1000
            ? pass(pacedLatency.p99Ms <= 50, `${pacedLatency.p99Ms} ms`)
            : `rate is ${o.rate}/s`,
        noDuplicateSends: pass(
          safety.duplicateSends === 0 && safety.simDuplicates === 0,
          safety.duplicateSends,
        ),
        noUnsafeSends: pass(safety.unsafeSends === 0, safety.unsafeSends),
        noLostEvents: pass(safety.lostEvents === 0, safety.lostEvents),
      },
      maxRate: {
        events: maxLoad.acked,
        clients: o.clients,
        batch: o.batch,
        maxBacklog: o.maxBacklog,
        highestBacklog: maxLoad.maxBacklog,
        ingestEventsPerSecond: Math.round(
          (maxLoad.acked / Math.max(1, maxLoad.lastAckAt - maxLoad.startedAt)) * 1000,
        ),
        endToEnd: tput,
        loadTimedOut: maxLoad.timedOut,
        allSent: maxDrained,
        ackToSendLatency: latency(w, ledger, d, maxRange),
        requests: maxRequests,
        cpu: cpuBetween(s0, s1, maxLoad.acked),
        jetStreamWritesPerEvent: perStream(writes, maxLoad.acked),
      },
      paced: {
        targetEventsPerSecond: o.rate,
        batch: o.pacedBatch,
        events: pacedLoad.acked,
        offeredEventsPerSecond: Math.round(
          (pacedLoad.acked / Math.max(1, pacedLoad.lastAckAt - pacedLoad.startedAt)) * 1000,
        ),
        loadTimedOut: pacedLoad.timedOut,
        allSent: pacedDrained,
        ackToSendLatency: pacedLatency,
        requests: pacedRequests,
        cpu: cpuBetween(s1, s2, pacedLoad.acked),
        jetStreamWritesPerEvent: round2(
          writesBetween(afterMax, afterPaced).total / Math.max(1, pacedLoad.acked),
        ),
      },
      ...(ceiling ? { rawJetStreamCeiling: ceiling } : {}),
      checks: {
        ...safety,
        ingestDuplicates: ledger.ingestDuplicates,
        failedRequests: ledger.failedRequests,
        escalations: afterPaced.get('ESCALATIONS')?.messages ?? 0,
        deadLetters: afterPaced.get('DLQ')?.messages ?? 0,
        warmupSends: d.warmup,
      },
      parleyProcess: {
        peakRssMiB: memory.peak ?? 'n/a',
        rssAtEndMiB: memory.rss ?? 'n/a',
        exit,
        warningsLogged: warnings.length,
        ...(warnings.length ? { firstWarnings: warnings.slice(0, 3) } : {}),
      },
      ...(profile ? { cpuProfile: profile } : {}),
    };
  } catch (err) {
    if (parley) process.stderr.write(`--- Parley output (tail) ---\n${parley.tail()}\n`);
    if (client?.lastError) process.stderr.write(`last ingest error: ${client.lastError}\n`);
    throw err;
  } finally {
    client?.close();
    await parley?.stop();
    await h?.nc.close();
    await sim.stop();
    await nats?.server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
