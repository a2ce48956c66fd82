/**
 * End-to-end throughput with 1 versus 3 partition-owner processes in the same run, and the time partitions
 * take to move after a kill -9 and after a join. Each owner is `parley start --roles actors,connectors` in
 * its own child process (conversation actors and the connector stage of the partitions it leases). This
 * process is the producer (events published straight to NATS on `ingest.<tenant>.<conversation>...`, in
 * chunks, each chunk awaited for its PubAcks) and runs the simulated webhook receiver; the echo fixture rule
 * sends one webhook per event, so the receiver's log alone says what was lost, duplicated or reordered.
 *
 * For each N in [1, 3]: a fresh nats-server (its own store, the partition mapping), N owners, a wait until
 * every partition is owned in an even split, an unmeasured warm-up, then the measured run: events/s from the
 * first publish to the last distinct webhook delivery, and CPU-ms per event of every process (owners and
 * nats-server from /proc/<pid>/stat, this process from process.cpuUsage). With N = 3, under a light steady
 * load: kill -9 one owner (time until the survivors own its partitions, then until they are split evenly),
 * start a fourth (time until it owns its share), and check that load's deliveries the same way.
 *
 * Bounded: fixed event counts, every wait capped; loopback only; only processes started here are stopped.
 *
 *   npx tsx bench/cluster-throughput.ts [events] [conversations]     (default 20000 over 2000)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, type NatsHandles } from '../src/nats/connection.js';
import { startNatsServer } from '../src/nats/embedded-server.js';
import { SimPlatform, type SimSend } from '../src/sim/sim-platform.js';
import {
  type ChildParley,
  childOwner,
  event,
  FIXTURE_RULES,
  publishEvents,
  readLeases,
  spawnCli,
} from '../test/helpers/parley.js';
import { checkWebhookHistory, type WebhookHistoryReport } from '../test/helpers/pipeline.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const CONVERSATIONS = Number(process.argv[3] ?? 2000);
const PARTITIONS = 64;
/** The config default (runtime.leaseTtlMs): a dead owner's partitions are taken after about one ttl. */
const LEASE_TTL_MS = 6000;
const CHUNK = 2000;
const WARMUP_EVENTS = 2000;
/** Cap on the wait for deliveries; events still unsent then are counted as lost (and `complete` is false). */
const DELIVERY_CAP_MS = 300_000;
const BALANCE_CAP_MS = 60_000;
/** The steady load during the kill and the join: one event per conversation per round, rounds 100 ms apart. */
const FAULT_CONVERSATIONS = 50;
const FAULT_MAX_ROUNDS = 1200;
const TENANT = 'bench';
const CLK_TCK = clockTicks();

type Teardown = () => unknown;

/** Teardowns run in reverse at the end of a scope (one per N, one for the whole run). */
class Scope {
  readonly #fns: Teardown[] = [];
  readonly t = { teardown: (fn: Teardown) => void this.#fns.push(fn) };
  async close(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process in ms, from /proc (undefined once it is gone). */
function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": fields after the comm; utime and stime are fields 14 and 15 of the line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, capMs: number, everyMs = 50) {
  const deadline = Date.now() + capMs;
  // A check that throws (e.g. the lease bucket not created yet by the first owner) counts as not yet.
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${capMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Owner -> partitions it holds (live leases, not released). */
async function ownership(h: NatsHandles): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [p, l] of (await readLeases(h, PARTITIONS)).entries()) {
    if (!l || l.released) continue;
    out.set(l.owner, [...(out.get(l.owner) ?? []), p]);
  }
  return out;
}

/** Every partition owned by exactly these owners, each floor(P/n) or one more (the balancer's split). */
function balanced(o: Map<string, number[]>, owners: string[]): boolean {
  const lo = Math.floor(PARTITIONS / owners.length);
  const counts = owners.map((id) => o.get(id)?.length ?? 0);
  return (
    o.size === owners.length &&
    counts.every((c) => c === lo || c === lo + 1) &&
    counts.reduce((a, b) => a + b, 0) === PARTITIONS
  );
}

async function waitBalanced(h: NatsHandles, owners: string[]): Promise<number> {
  const started = Date.now();
  await until(
    `${PARTITIONS} partitions split among ${owners.length}`,
    async () => balanced(await ownership(h), owners),
    BALANCE_CAP_MS,
    100,
  );
  return Date.now() - started;
}

/** Distinct webhook-ids received, the receive time of each first arrival and of the last one. */
function distinct(sends: SimSend[]): { count: number; lastAt: number; times: number[] } {
  const seen = new Set<string>();
  const times: number[] = [];
  for (const s of sends) {
    if (!s.key || seen.has(s.key)) continue;
    seen.add(s.key);
    times.push(s.at);
  }
  return { count: seen.size, lastAt: times.reduce((a, b) => Math.max(a, b), 0), times };
}

/**
 * The longest gap between consecutive first deliveries of one conversation: "before" the kill (the load's
 * own rhythm), "kill" (gaps spanning the kill: its partitions ownerless until taken), "join" (gaps that
 * start after the joiner connected: the hand-over of its share). Gaps in between are left out.
 */
function conversationStalls(sends: SimSend[], killedAt: number, joinerConnectedAt: number) {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  const out = { before: 0, kill: 0, join: 0 };
  for (const s of sends) {
    if (!s.key || seen.has(s.key)) continue;
    seen.add(s.key);
    const { conversation } = JSON.parse(s.body) as { conversation: string };
    const prev = last.get(conversation);
    last.set(conversation, s.at);
    if (prev === undefined) continue;
    const window =
      s.at < killedAt ? 'before' : prev < killedAt ? 'kill' : prev >= joinerConnectedAt ? 'join' : undefined;
    if (window) out[window] = Math.max(out[window], s.at - prev);
  }
  return out;
}

/** Distinct deliveries from the receiver's counters (cheap enough to poll while measuring). */
function deliveredCount(sim: SimPlatform): number {
  const { accepted, duplicates } = sim.stats();
  return accepted - duplicates;
}

function summary(r: WebhookHistoryReport) {
  return {
    delivered: r.delivered,
    lost: r.lost.length,
    duplicates: r.duplicates.length,
    orderViolations: r.orderViolations.length,
    redeliveries: r.redeliveries,
  };
}

interface Cluster {
  h: NatsHandles;
  natsPid: number;
  spawn(): Promise<{ child: ChildParley; owner: string; spawnedAt: number; connectedAt: number }>;
}

async function startCluster(scope: Scope, sim: SimPlatform): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-cluster-'));
  scope.t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startNatsServer({
    port: -1,
    storeDir: join(dir, 'store'),
    configPath: join(dir, 'nats.conf'),
    logFile: join(dir, 'nats.log'),
    partitions: PARTITIONS,
  });
  scope.t.teardown(() => server.stop());
  const h = await connectNats({ url: server.url, reconnect: false, name: 'bench-cluster' });
  scope.t.teardown(() => h.nc.close());
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: dir,
      nats: { url: server.url },
      partitions: PARTITIONS,
      rules: FIXTURE_RULES,
      log: { level: 'info' },
      runtime: { leaseTtlMs: LEASE_TTL_MS },
      tenants: {
        [TENANT]: {
          channels: {
            webhook: {
              url: `${sim.url}/hooks/${TENANT}`,
              secret: 'whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA==',
            },
          },
        },
      },
    }),
  );
  return {
    h,
    natsPid: server.pid,
    async spawn() {
      const spawnedAt = Date.now();
      const child = spawnCli(scope.t, ['start', '--config', file, '--roles', 'actors,connectors'], {});
      // A graceful stop first (bounded); spawnCli's own teardown then SIGKILLs whatever is left.
      scope.t.teardown(async () => {
        if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
        child.proc.kill('SIGTERM');
        await Promise.race([child.exited, sleep(15_000)]);
      });
      const owner = await childOwner(child);
      return { child, owner, spawnedAt, connectedAt: Date.now() };
    },
  };
}

/** Publishes `count` events round-robin over `conversations` (n rising per conversation) and awaits sends. */
async function throughput(
  cluster: Cluster,
  sim: SimPlatform,
  prefix: string,
  count: number,
  conversations: number,
  pids: number[],
) {
  sim.reset();
  const events = Array.from({ length: count }, (_, i) =>
    event(TENANT, `${prefix}${i % conversations}`, Math.floor(i / conversations)),
  );
  const cpuBefore = pids.map((p) => cpuMsOf(p) ?? 0);
  const selfBefore = selfCpuMs();
  const started = Date.now();
  await publishEvents(cluster.h, events, CHUNK);
  const publishedMs = Date.now() - started;
  await until(`${count} distinct deliveries`, () => deliveredCount(sim) >= count, DELIVERY_CAP_MS, 50).catch(
    (err: Error) => console.error(err.message),
  );
  const { count: delivered, lastAt } = distinct(sim.sends());
  const cpu = pids.map((p, i) => (cpuMsOf(p) ?? 0) - cpuBefore[i]!);
  const benchCpu = selfCpuMs() - selfBefore;
  const history = checkWebhookHistory(
    events.map((e) => ({ conversation: e.conversation, n: e.attributes.n as number })),
    sim.sends(),
  );
  return { started, publishedMs, delivered, seconds: (lastAt - started) / 1000, cpu, benchCpu, history };
}

async function runN(n: number, sim: SimPlatform) {
  const scope = new Scope();
  try {
    const cluster = await startCluster(scope, sim);
    const spawnedAt = Date.now();
    const workers = await Promise.all(Array.from({ length: n }, () => cluster.spawn()));
    const owners = workers.map((w) => w.owner);
    await waitBalanced(cluster.h, owners);
    const startupMs = Date.now() - spawnedAt;

    // Warm-up (JIT, connections, consumers, actor creation paths): not measured.
    const warm = await throughput(cluster, sim, `warm${n}x`, WARMUP_EVENTS, 200, []);
    if (warm.delivered < WARMUP_EVENTS)
      throw new Error(`warm-up delivered ${warm.delivered}/${WARMUP_EVENTS}`);

    const pids = [...workers.map((w) => w.child.proc.pid!), cluster.natsPid];
    const run = await throughput(cluster, sim, `c${n}x`, EVENTS, CONVERSATIONS, pids);
    const ownersCpuMs = run.cpu.slice(0, n).reduce((a, b) => a + b, 0);
    const natsCpuMs = run.cpu[n]!;
    const result = {
      processes: n,
      events: EVENTS,
      conversations: CONVERSATIONS,
      startupToBalancedMs: startupMs,
      publishSeconds: Number((run.publishedMs / 1000).toFixed(2)),
      seconds: Number(run.seconds.toFixed(2)),
      eventsPerSecond: Math.round(run.delivered / run.seconds),
      complete: run.delivered >= EVENTS,
      ...summary(run.history),
      cpuMs: {
        perOwner: run.cpu.slice(0, n).map(Math.round),
        owners: Math.round(ownersCpuMs),
        natsServer: Math.round(natsCpuMs),
        bench: Math.round(run.benchCpu),
      },
      cpuMsPerEvent: {
        owners: round3(ownersCpuMs / EVENTS),
        natsServer: round3(natsCpuMs / EVENTS),
        bench: round3(run.benchCpu / EVENTS),
        total: round3((ownersCpuMs + natsCpuMs + run.benchCpu) / EVENTS),
      },
    };
    const faults = n === 3 ? await killAndJoin(cluster, sim, workers) : undefined;
    return { result, faults };
  } finally {
    await scope.close();
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** kill -9 one owner, then start another, under a light steady load; returns the move times. */
async function killAndJoin(
  cluster: Cluster,
  sim: SimPlatform,
  workers: Array<{ child: ChildParley; owner: string }>,
) {
  sim.reset();
  const accepted: Array<{ conversation: string; n: number }> = [];
  let loading = true;
  let rounds = 0;
  const load = (async () => {
    while (loading && rounds < FAULT_MAX_ROUNDS) {
      const batch = Array.from({ length: FAULT_CONVERSATIONS }, (_, c) => event(TENANT, `f${c}`, rounds));
      await publishEvents(cluster.h, batch);
      for (const e of batch) accepted.push({ conversation: e.conversation, n: rounds });
      rounds++;
      await sleep(100);
    }
  })();
  try {
    await until(
      'deliveries under the steady load',
      () => deliveredCount(sim) > FAULT_CONVERSATIONS * 5,
      30_000,
    );
    const [victim, ...survivors] = workers;
    const theirs = (await ownership(cluster.h)).get(victim!.owner) ?? [];
    const killedAt = Date.now();
    victim!.child.proc.kill('SIGKILL');
    await victim!.child.exited;
    const survivorIds = survivors.map((s) => s.owner);
    await until(
      `the killed owner's ${theirs.length} partitions taken by the survivors`,
      async () => {
        const o = await ownership(cluster.h);
        return theirs.every((p) => survivorIds.some((id) => o.get(id)?.includes(p)));
      },
      BALANCE_CAP_MS,
      100,
    );
    const killMovedMs = Date.now() - killedAt;
    await waitBalanced(cluster.h, survivorIds);
    const killBalancedMs = Date.now() - killedAt;

    const joiner = await cluster.spawn();
    const all = [...survivorIds, joiner.owner];
    await waitBalanced(cluster.h, all);
    const joinedAt = Date.now();
    const share = (await ownership(cluster.h)).get(joiner.owner)?.length ?? 0;

    loading = false;
    await load;
    await until(
      `${accepted.length} distinct deliveries of the steady load`,
      () => deliveredCount(sim) >= accepted.length,
      DELIVERY_CAP_MS,
      100,
    ).catch((err: Error) => console.error(err.message));
    const sends = sim.sends();
    const stalls = conversationStalls(sends, killedAt, joiner.connectedAt);
    return {
      leaseTtlMs: LEASE_TTL_MS,
      killedPartitions: theirs.length,
      killMovedMs,
      killBalancedMs,
      joinFromSpawnMs: joinedAt - joiner.spawnedAt,
      joinFromConnectMs: joinedAt - joiner.connectedAt,
      joinerShare: share,
      load: {
        events: accepted.length,
        longestConversationStallMs: stalls,
        ...summary(checkWebhookHistory(accepted, sends)),
      },
    };
  } finally {
    loading = false;
    await load;
  }
}

async function main(): Promise<void> {
  const global = new Scope();
  try {
    const sim = new SimPlatform({ host: '127.0.0.1', port: 0, perSecond: 1e6, burst: 1e6 });
    await sim.start();
    global.t.teardown(() => sim.stop());
    const runs = [];
    for (const n of [1, 3]) {
      const r = await runN(n, sim);
      runs.push(r);
      console.log(`N=${n} done: ${r.result.eventsPerSecond} events/s`);
    }
    const [one, three] = runs.map((r) => r.result);
    const ratio = round3(three!.eventsPerSecond / one!.eventsPerSecond);
    const faults = runs[1]!.faults!;

    const header =
      'owners  events/s  seconds  lost  dup  order  resent  CPU-ms/event: owners  nats  bench  total';
    console.log(
      `\n${EVENTS} events over ${CONVERSATIONS} conversations, ${PARTITIONS} partitions, echo rule (1 webhook/event)`,
    );
    console.log(header);
    for (const r of [one!, three!])
      console.log(
        `${String(r.processes).padStart(6)}  ${String(r.eventsPerSecond).padStart(8)}  ${r.seconds.toFixed(2).padStart(7)}  ${String(r.lost).padStart(4)}  ${String(r.duplicates).padStart(3)}  ${String(r.orderViolations).padStart(5)}  ${String(r.redeliveries).padStart(6)}  ${r.cpuMsPerEvent.owners.toFixed(3).padStart(20)}  ${r.cpuMsPerEvent.natsServer.toFixed(3).padStart(4)}  ${r.cpuMsPerEvent.bench.toFixed(3).padStart(5)}  ${r.cpuMsPerEvent.total.toFixed(3).padStart(5)}${r.complete ? '' : '  (delivery cap reached: lost = unsent then)'}`,
      );
    console.log(`3 vs 1 throughput ratio: ${ratio}`);
    console.log(
      `kill -9 (lease ttl ${faults.leaseTtlMs} ms): its ${faults.killedPartitions} partitions owned by the survivors after ${faults.killMovedMs} ms, split evenly after ${faults.killBalancedMs} ms`,
    );
    console.log(
      `join: share of ${faults.joinerShare} owned ${faults.joinFromSpawnMs} ms after spawn (${faults.joinFromConnectMs} ms after it connected)`,
    );
    console.log(
      `steady load during kill + join: ${faults.load.events} events, lost ${faults.load.lost}, duplicates ${faults.load.duplicates}, order ${faults.load.orderViolations}, resent ${faults.load.redeliveries}; longest wait of one conversation between its sends: ${faults.load.longestConversationStallMs.before} ms before the kill, ${faults.load.longestConversationStallMs.kill} ms across the kill, ${faults.load.longestConversationStallMs.join} ms after the joiner connected`,
    );

    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `cluster-throughput-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ machine: { cpus: cpus().length, node: process.version }, partitions: PARTITIONS, runs: [one, three], ratio3vs1: ratio, faults }, null, 2)}\n`,
    );
    console.log(`wrote ${file}`);
  } finally {
    await global.close();
  }
}

await main();
