import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Ledger } from '../../bench/e2e/workload.js';
import { dueSeconds } from '../../bench/run/driver.js';
import { htmlReport } from '../../bench/run/html-report.js';
import type { Measurement } from '../../bench/run/measure.js';
import { plan } from '../../bench/run/plan.js';
import { buildRunReport, type ParleyRun, systemReport } from '../../bench/run/report.js';
import { parseHistograms, stageLatency } from '../../bench/run/stage-metrics.js';
import { Tracker } from '../../bench/run/tracker.js';
import { loadScenario, parseScenario } from '../../bench/scenario-schema.js';
import { SimPlatform, type SimSend } from '../../src/sim/sim-platform.js';

const BENCH = join(import.meta.dirname, '..', '..', 'bench');
const minimal = 'conversations: 10\nphases:\n  - { name: run, seconds: 1, rate: max }\n';

t.test('bench scenario - every scenario file in bench/ parses', async (t) => {
  const files = readdirSync(BENCH).filter((f) => f.endsWith('.yaml'));
  t.ok(files.includes('10k-conversations.yaml') && files.includes('smoke.yaml'));
  for (const f of files) t.doesNotThrow(() => loadScenario(join(BENCH, f)), f);
});

t.test('bench scenario - defaults fill a minimal file; the name comes from the file', async (t) => {
  const s = parseScenario('x/minimal.yaml', minimal);
  t.equal(s.name, 'minimal');
  t.equal(s.ingest.inFlight, 128);
  t.equal(s.parley.processes, 1);
  t.same(s.peers, []);
});

t.test('bench scenario - an unknown key is rejected with its name, file and line', async (t) => {
  t.throws(() => parseScenario('s.yaml', `${minimal}conversatons: 5\n`), {
    message: /s\.yaml:4 conversatons: unknown key "conversatons"/,
  });
  t.throws(() => parseScenario('s.yaml', `${minimal}mix: { optOut: 0.1, riksy: 0.2 }\n`), {
    message: /unknown key "riksy"/,
  });
  t.throws(
    () =>
      parseScenario(
        's.yaml',
        'conversations: 10\nphases:\n  - { name: run, seconds: 1, rate: max, burst: 2 }\n',
      ),
    { message: /s\.yaml:3 phases\.0\.burst: unknown key "burst"/ },
  );
});

t.test('bench scenario - cross-field checks name the field', async (t) => {
  t.throws(() => parseScenario('s.yaml', `${minimal}mix: { optOut: 0.5, buyers: 0.6 }\n`), {
    message: /more than 1/,
  });
  t.throws(
    () =>
      parseScenario(
        's.yaml',
        'conversations: 10\nphases:\n  - { name: a, seconds: 1, rate: { ofHeadline: 0.5 } }\n  - { name: b, seconds: 1, rate: max }\n',
      ),
    { message: /phases\.0\.rate: ofHeadline needs the headline phase before it/ },
  );
});

t.test('bench driver - a ramp is due on the integral of its rate', async (t) => {
  t.equal(dueSeconds(100, 10, 50), 0.5);
  // from 100 to 300 over 10 s: 2000 events in all, the last at 10 s
  t.ok(Math.abs(dueSeconds({ from: 100, to: 300 }, 10, 2000) - 10) < 1e-9);
  t.ok(dueSeconds({ from: 100, to: 300 }, 10, 1000) > 5, 'the slow start takes more than half the time');
  t.equal(dueSeconds('max', 10, 1e6), 0);
});

t.test('bench plan - classes follow the shares; unsafe and expected sends follow the classes', async (t) => {
  const s = parseScenario('s.yaml', `conversations: 1000\neventsPerConversation: 4\n${minimal.slice(18)}`);
  const p = plan(s, 'r1');
  const c = p.counts();
  t.ok(c['opt-out'] > 10 && c['opt-out'] < 60, `about 3% opt out (${c['opt-out']})`);
  const stop = [...Array(1000).keys()].find((k) => p.classOf(k) === 'opt-out')!;
  t.equal(p.event(stop, 'x')?.attributes.text, 'STOP');
  t.notOk(p.expectsSend(stop));
  t.ok(p.forbidden(stop));
  const quiet = [...Array(1000).keys()].find((k) => p.classOf(k) === 'quiet')!;
  t.equal(p.event(quiet + 2 * 1000, 'x'), undefined, 'a quiet conversation has no third event');
});

function send(
  n: number,
  at: number,
  conversation: string,
  template: string,
  eventId: string,
  duplicate = false,
): SimSend {
  return {
    n,
    channel: 'webhook',
    account: 'bench',
    key: `${eventId}.${template}`,
    deliveryId: String(n),
    at,
    duplicate,
    path: '/hooks/bench',
    headers: {},
    body: JSON.stringify({ conversation, template, event: { id: eventId } }),
  };
}

t.test(
  'bench tracker - duplicates, unsafe sends, lost events and order violations are counted',
  async (t) => {
    const s = parseScenario(
      's.yaml',
      `conversations: 100\neventsPerConversation: 3\nmix: { optOut: 0.2, risky: 0, buyers: 0, quiet: 0 }\n${minimal.slice(18)}`,
    );
    const p = plan(s, 'r2');
    const ledger = new Ledger({
      runId: 'r2',
      conversations: 100,
      eventsPerConversation: 3,
      optOut: 0,
      total: p.total,
    });
    const tracker = new Tracker(p, ledger, 1);
    const safe = [...Array(100).keys()].find((k) => !p.forbidden(k))!;
    const unsafe = [...Array(100).keys()].find((k) => p.forbidden(k))!;
    for (const i of [safe, safe + 100, safe + 200, unsafe]) {
      ledger.markPosted(i);
      ledger.acked(i, 1000);
      tracker.phaseOf[i] = 0;
    }
    const id = (i: number) => `r2-${i}`;
    const conv = (c: number) => `r2-c${c}`;
    tracker.poll([
      send(1, 1010, conv(safe), 'ack', id(safe + 100)), // round 1 first
      send(2, 1020, conv(safe), 'ack', id(safe)), // then round 0: an order violation
      send(3, 1030, conv(safe), 'ack', id(safe)), // the same event again: a duplicate
      send(4, 1040, conv(unsafe), 'ack', id(unsafe)), // to a conversation that opted out
      send(5, 1050, conv(safe), 're-engage', 'r2-detector', true), // a webhook-id accepted twice
    ]);
    t.equal(tracker.orderViolations, 1);
    t.equal(tracker.duplicates, 2);
    t.equal(tracker.unsafe, 1);
    t.equal(tracker.lost(), 1, 'round 2 of the safe conversation never arrived');
    t.equal(tracker.phaseLatency(0).p50Ms, 20);
  },
);

t.test('bench stage metrics - histogram quantiles between two scrapes', async (t) => {
  const text = (a: number, b: number) =>
    `parley_actor_commit_seconds_bucket{le="0.01"} ${a}\nparley_actor_commit_seconds_bucket{le="0.02"} ${b}\nparley_actor_commit_seconds_bucket{le="+Inf"} ${b}\n`;
  const names = ['parley_actor_commit_seconds'];
  const l = stageLatency(parseHistograms(text(10, 10), names), parseHistograms(text(60, 110), names));
  t.equal(l.actorCommit.count, 100);
  t.equal(l.actorCommit.p50Ms, 10, 'half of the new observations are at or below 10 ms');
  t.equal(l.actorCommit.p99Ms, 19.8);
});

t.test('bench report - the JSON report has the documented shape; the HTML is self-contained', async (t) => {
  const s = parseScenario('s.yaml', `conversations: 10\neventsPerConversation: 1\n${minimal.slice(18)}`);
  const p = plan(s, 'r3');
  const ledger = new Ledger({
    runId: 'r3',
    conversations: 10,
    eventsPerConversation: 1,
    optOut: 0,
    total: p.total,
  });
  const tracker = new Tracker(p, ledger, 1);
  tracker.tick('run');
  const m: Measurement = {
    phases: [
      {
        name: 'run',
        startedAt: 0,
        endedAt: 1000,
        posted: 10,
        acked: 10,
        maxBacklog: 0,
        maxLagMs: 0,
        supplyExhausted: true,
        rate: 'max',
      },
    ],
    headline: 0,
    headlineWindow: { startedAt: 0, endedAt: 1000 },
    drained: true,
    drainSeconds: 0,
    processes: [
      { name: 'parley-0', kind: 'engine', cpuMs: 20, msPerEvent: 2, cores: 0.02, peakRssMb: 200 },
      { name: 'nats-server', kind: 'store', cpuMs: 10, msPerEvent: 1, cores: 0.01, peakRssMb: 40 },
    ],
    benchCpuMsPerEvent: 1,
    otherProcessesCores: 0,
    headlineEvents: 10,
    eventsPerSecond: 10,
  };
  const sim = new SimPlatform();
  const parley: ParleyRun = {
    report: systemReport(s, 'parley', 'Parley', m, tracker, sim),
    natsVersion: '2.9.10',
    ceiling: { eventsPerSecond: 100, ratio: 0.1, events: 1000, timedOut: false, loop: 'x' },
    writes: { perEvent: 5, kvPerEvent: 2, streamPublishesPerEvent: 3, byStream: {} },
    parleyRssMb: 150,
    parleyPeakRssMb: 200,
    natsPeakRssMb: 40,
    exits: ['0'],
    warnings: [],
    escalations: 0,
    deadLetters: 0,
  };
  const peer = {
    ...systemReport(s, 'bullmq-ordered', 'BullMQ', { ...m, eventsPerSecond: 20 }, tracker, sim),
  };
  const r = buildRunReport({
    s,
    file: 's.yaml',
    startedAt: 'now',
    t0: Date.now(),
    loadStart: [1, 1, 1],
    parley,
    peers: [peer],
  });
  for (const key of [
    'scenario',
    'startedAt',
    'machine',
    'throughput',
    'latency',
    'ceiling',
    'writesPerEvent',
  ])
    t.ok(key in r, key);
  t.type(r.machine.cores, 'number');
  t.type(r.machine.memoryGb, 'number');
  t.equal(r.machine.natsServer, '2.9.10');
  t.type(r.machine.node, 'string');
  t.equal(r.throughput.eventsPerSecond, 10);
  t.equal(r.latency.phase, 'run');
  t.same(Object.keys(r.latency.e2e).sort(), ['events', 'maxMs', 'p50Ms', 'p95Ms', 'p99Ms']);
  t.same(r.ceiling && Object.keys(r.ceiling).slice(0, 2), ['eventsPerSecond', 'ratio']);
  t.equal(r.writesPerEvent, 5);
  t.ok('zodPassesPerEvent' in r);
  t.equal(r.cpu.parleyMsPerEvent, 2);
  t.equal(r.cpu.natsMsPerEvent, 1);
  t.same(Object.keys(r.correctness).slice(0, 4), ['duplicates', 'unsafe', 'lost', 'orderViolations']);
  t.equal(r.memory.parleyRssMb, 200);
  t.equal(r.peers.length, 1);
  t.equal(r.peers[0]!.ratios?.throughput, 0.5, "Parley's events/s over the peer's");
  t.equal(r.pass, true);
  const html = htmlReport(r);
  t.match(html, /<svg/);
  t.match(html, /Throughput over time/);
  t.match(html, /Latency over time/);
  t.match(html, /bullmq-ordered/);
  t.notMatch(html, /<script|<link|src="http|href="http/, 'nothing loaded from elsewhere');
});
