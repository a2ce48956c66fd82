/**
 * Ingest API throughput on loopback: events/s acknowledged by JetStream through POST /v1/events, for
 * single-event requests and for batches. Parley runs the ingest role in a child process (its own event loop,
 * as in production); this process is the load generator (node:http keep-alive, a fixed number of
 * concurrent clients). A local nats-server is started for the run (or NATS_URL). Bounded: a fixed event count per
 * scenario. Prints one line per scenario and writes bench/results/ingest-<time>.json.
 *
 *   npx tsx bench/ingest.ts [events-per-scenario]      (default 20000)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { post } from './e2e/load.js';
import { benchServer } from './harness.js';

const ROOT = join(import.meta.dirname, '..');
const EVENTS = Number(process.argv[2] ?? 20_000);
const TOKEN = 'bench-token-acme';

interface Scenario {
  name: string;
  batch: number;
  clients: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'single, 1 client', batch: 1, clients: 1 },
  { name: 'single, 32 clients', batch: 1, clients: 32 },
  { name: 'batch 10, 16 clients', batch: 10, clients: 16 },
  { name: 'batch 100, 8 clients', batch: 100, clients: 8 },
  { name: 'batch 1000, 4 clients', batch: 1000, clients: 4 },
];

async function startIngest(natsUrl: string, dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start', '--roles', 'ingest'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PARLEY_CONFIG: join(dataDir, 'bench.yaml'),
        PARLEY_NATS__URL: natsUrl,
        PARLEY_DATA_DIR: dataDir,
        PARLEY_LOG__LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /"url":"(http[^"]+)"[^\n]*"msg":"ingest API listening"/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`parley exited (${code}):\n${out.slice(-2000)}`)));
  });
  return { url, proc };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function run(url: string, s: Scenario, round: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: s.clients });
  const requests = Math.ceil(EVENTS / s.batch);
  let next = 0;
  let accepted = 0;
  let failed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const client = async () => {
    for (;;) {
      const r = next++;
      if (r >= requests) return;
      const events = Array.from({ length: s.batch }, (_, i) => ({
        id: `r${round}-${r}-${i}`,
        type: 'message.received',
        conversation: `c${(r * s.batch + i) % 10_000}`,
        occurredAt: new Date().toISOString(),
        attributes: { text: 'hello', n: i },
      }));
      const body = JSON.stringify(s.batch === 1 ? events[0] : { events });
      const t0 = performance.now();
      const { status, text } = await post(`${url}/v1/events`, agent, TOKEN, body);
      latencies.push(performance.now() - t0);
      if (status === 202) accepted += (JSON.parse(text) as { results: unknown[] }).results.length;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: s.clients }, client));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    scenario: s.name,
    batch: s.batch,
    clients: s.clients,
    events: accepted,
    failedRequests: failed,
    seconds: Math.round(seconds * 100) / 100,
    eventsPerSecond: Math.round(accepted / seconds),
    requestsPerSecond: Math.round(requests / seconds),
    p50ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99ms: Math.round(percentile(latencies, 99) * 100) / 100,
  };
}

const nats = await benchServer(64);
const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-ingest-'));
writeFileSync(
  join(dataDir, 'bench.yaml'),
  `http: { host: 127.0.0.1, port: 0 }\ntenants:\n  acme:\n    auth: { tokens: [ "${TOKEN}" ] }\n`,
);
const { url, proc } = await startIngest(nats.url, dataDir);
const results = [];
try {
  await run(url, { name: 'warm-up', batch: 50, clients: 4 }, 0); // JIT and connection set-up
  let round = 1;
  for (const s of SCENARIOS) {
    const r = await run(url, s, round++);
    results.push(r);
    process.stdout.write(
      `${r.scenario.padEnd(24)} ${String(r.eventsPerSecond).padStart(8)} events/s  ${String(r.requestsPerSecond).padStart(7)} req/s` +
        `  p50 ${r.p50ms} ms  p99 ${r.p99ms} ms  (${r.events} events, ${r.failedRequests} failed requests)\n`,
    );
  }
} finally {
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  await nats.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results', `ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ eventsPerScenario: EVENTS, node: process.version, results }, null, 2)}\n`,
);
process.stdout.write(`written ${file}\n`);
