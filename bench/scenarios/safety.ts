/**
 * safety: what the safety layer adds per decision. Two parts, both bounded:
 *  1. the pure gate in a loop (no I/O): microseconds per decision for the pass-through gate, the default
 *     safety gate (four lexicon classifiers + five guards + an audit record), and the gate with caps and
 *     quiet hours configured; plus the pre-send re-check per action;
 *  2. end to end through one Parley process and a local nats-server: EVENTS stored -> ACTIONS stored
 *     latency (p50/p99) for the same paced load with safety off and on (the extra AUDIT publish included).
 */
import { performance } from 'node:perf_hooks';
import { headers } from '@nats-io/transport-node';
import type { GateInput, SafetyGate } from '../../actors/conversation/gate.js';
import { initialConversationState } from '../../actors/conversation/state.js';
import { passThroughGate } from '../../actors/index.js';
import { loadConfig } from '../../src/config/load.js';
import { SafetySchema } from '../../src/config/safety-schema.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { eventHeaders, ingestSubject } from '../../src/envelope/event-message.js';
import { start } from '../../src/main.js';
import { connectNats } from '../../src/nats/connection.js';
import { createLogger } from '../../src/obs/logger.js';
import type { ActionMessage } from '../../src/runtime/outbound.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { SafetyPreSendGate } from '../../src/safety/pre-send-gate.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';
import { type BenchReport, benchServer, until } from '../harness.js';

export interface SafetyBenchOptions {
  /** Decisions per gate variant in the loop. */
  decisions: number;
  /** Events per end-to-end run (each run paced at `rate` per second). */
  events: number;
  rate: number;
  partitions: number;
}

export const safetyDefaults: SafetyBenchOptions = {
  decisions: 20_000,
  events: 3000,
  rate: 1000,
  partitions: 8,
};

const TEXTS = [
  'hey! loved the new video, when is the next one?',
  'can you send me the link again please',
  'haha that was great',
  'what time is the live stream tomorrow?',
];

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

function loop(gate: SafetyGate, decisions: number) {
  const snap = { get: () => undefined };
  let state = initialConversationState('bench', 'c1');
  const times: number[] = [];
  for (let i = 0; i < decisions; i++) {
    const input: GateInput = {
      event: {
        schema: 1,
        id: `e${i}`,
        type: 'message.received',
        tenant: 'bench',
        conversation: 'c1',
        occurredAt: '2026-01-05T12:00:00.000Z',
        attributes: { text: TEXTS[i % TEXTS.length]!, timeZone: 'America/New_York' },
      },
      state,
      proposals: [{ type: 'action', channel: 'webhook', rule: 'echo', template: 'ack', variables: {} }],
      now: Date.UTC(2026, 0, 5, 12) + i * 60_000,
      rulesVersion: 'bench',
      seq: i + 1,
      switches: { control: snap, consent: snap },
    };
    const t0 = performance.now();
    state = gate.review(input).state;
    times.push(performance.now() - t0);
  }
  const warm = times.slice(Math.floor(times.length / 10)).sort((a, b) => a - b);
  const mean = warm.reduce((a, b) => a + b, 0) / warm.length;
  return {
    meanUs: round(mean * 1000),
    p50Us: round(pct(warm, 50) * 1000),
    p99Us: round(pct(warm, 99) * 1000),
  };
}

async function preSend(decisions: number) {
  const snap = { get: () => undefined };
  const gate = new SafetyPreSendGate({
    policy: new SafetyPolicy(SafetySchema.parse({})),
    switches: { control: snap, consent: snap },
    clock: { now: () => Date.now(), sleep: async () => {} },
  });
  const action: ActionMessage = {
    schema: 1,
    id: 'bench.c1.1.0',
    type: 'action',
    tenant: 'bench',
    conversation: 'c1',
    channel: 'webhook',
    rule: 'echo',
    template: 'ack',
    variables: {},
    event: { id: 'e1', type: 'message.received', attributes: {}, seq: 1 },
    decidedAt: new Date().toISOString(),
  };
  const t0 = performance.now();
  for (let i = 0; i < decisions; i++) await gate.check(action);
  return { meanUs: round(((performance.now() - t0) / decisions) * 1000) };
}

async function endToEnd(o: SafetyBenchOptions, safety: boolean) {
  const server = await benchServer(o.partitions);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: `${process.env.TMPDIR ?? '/tmp'}/parley-bench-safety-${process.pid}`,
      nats: { url: server.url },
      partitions: o.partitions,
      rules: 'test/fixtures/rules',
      log: { level: 'silent' },
      safety: { enabled: safety },
    },
  }).config;
  const parley = await start(config, { roles: ['actors'], logger: createLogger({ level: 'silent' }) });
  const h = await connectNats({ url: server.url, reconnect: false });
  try {
    const perTick = Math.max(1, Math.round(o.rate / 50));
    for (let i = 0; i < o.events; i += perTick) {
      const tick = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(perTick, o.events - i) }, (_, k) => {
          const n = i + k;
          const e: EventEnvelope = {
            schema: 1,
            id: `s${n}`,
            type: 'message.received',
            tenant: 'bench',
            conversation: `c${n % 500}`,
            occurredAt: new Date().toISOString(),
            attributes: { text: TEXTS[n % TEXTS.length]! },
          };
          const hdrs = headers();
          for (const [key, v] of Object.entries(eventHeaders(e))) hdrs.set(key, v);
          return h.js.publish(ingestSubject(e), encode(e), { msgID: e.id, headers: hdrs });
        }),
      );
      const wait = 20 - (performance.now() - tick);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await until(
      'every action',
      async () => (await h.jsm.streams.info('ACTIONS')).state.messages >= o.events,
      60_000,
    );
    const latencies: number[] = [];
    for (let seq = 1; seq <= o.events; seq++) {
      const m = await h.jsm.direct.getMessage('ACTIONS', { seq });
      if (!m) continue;
      const body = decodeMsgpack(m.data) as ActionMessage;
      latencies.push(m.time.getTime() - Date.parse(body.decidedAt));
    }
    latencies.sort((a, b) => a - b);
    const audit = (await h.jsm.streams.info('AUDIT')).state.messages;
    return {
      p50Ms: pct(latencies, 50),
      p99Ms: pct(latencies, 99),
      maxMs: latencies.at(-1) ?? 0,
      auditRecords: audit,
    };
  } finally {
    await h.nc.close();
    await parley.stop();
    await server.stop();
  }
}

export async function runSafety(o: SafetyBenchOptions): Promise<BenchReport> {
  const policy = new SafetyPolicy(SafetySchema.parse({}), {});
  const guarded = new SafetyPolicy(
    SafetySchema.parse({
      quietHours: { start: '22:00', end: '07:00' },
      caps: { perFan: [{ channel: '*', max: 1000, window: '1d' }] },
    }),
    {},
  );
  const pure = {
    passThrough: loop(passThroughGate, o.decisions),
    safetyDefault: loop(createSafetyGate(policy), o.decisions),
    safetyCapsQuietHours: loop(createSafetyGate(guarded), o.decisions),
    preSendCheck: await preSend(o.decisions),
  };
  const off = await endToEnd(o, false);
  const on = await endToEnd(o, true);
  return {
    scenario: 'safety',
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    options: { ...o },
    gatePerDecision: pure,
    endToEndEventToAction: {
      safetyOff: off,
      safetyOn: on,
      addedP50Ms: on.p50Ms - off.p50Ms,
      addedP99Ms: on.p99Ms - off.p99Ms,
    },
  };
}
