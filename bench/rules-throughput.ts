/**
 * Rule-evaluation throughput of the sample rule set (rules/): the pure conversation transition (profile,
 * detectors, timers, trigger rules, journeys, pass-through gate) over a mix of events for many
 * conversations, timers fired by a virtual clock. Bounded: EVENTS events (default 200k), no I/O.
 *   npx tsx bench/rules-throughput.ts [events] [conversations]
 */
import { join } from 'node:path';
import type { EventEnvelope } from '../src/envelope/envelope.js';
import { loadRuleSet } from '../src/rules/rule-set.js';
import { Simulator } from '../src/rules/simulator.js';

const EVENTS = Number(process.argv[2] ?? 200_000);
const CONVERSATIONS = Number(process.argv[3] ?? 10_000);
const MIX = [
  ['message.received', 50],
  ['subscription.created', 5],
  ['follow.back', 10],
  ['purchase.completed', 15],
  ['payment.failed', 10],
  ['profile.updated', 5],
  ['message.sent', 5],
] as const;

const rules = loadRuleSet(join(import.meta.dirname, '..', 'rules'));
const sim = new Simulator(rules);
let seed = 42;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 0x1_0000_0000;
};
const total = MIX.reduce((a, [, w]) => a + w, 0);
const pick = () => {
  let x = rand() * total;
  for (const [type, w] of MIX) {
    x -= w;
    if (x < 0) return type;
  }
  return MIX[0][0];
};

let now = Date.parse('2026-01-01T00:00:00Z');
const started = performance.now();
for (let i = 0; i < EVENTS; i++) {
  now += 60_000; // one event per simulated minute across all conversations: timers fire along the way
  const type = pick();
  const conversation = `c${Math.floor(rand() * CONVERSATIONS)}`;
  const event: EventEnvelope = {
    schema: 1,
    id: `e${i}`,
    type,
    tenant: 'acme',
    conversation,
    occurredAt: new Date(now).toISOString(),
    attributes: type === 'purchase.completed' ? { amount: Math.round(rand() * 200) } : { text: 'hello' },
  };
  sim.apply(event, now);
}
const seconds = (performance.now() - started) / 1000;
const report = {
  scenario: 'rules-throughput',
  rulesVersion: rules.version,
  inputEvents: EVENTS,
  conversations: CONVERSATIONS,
  appliedEvents: sim.applied,
  decisions: sim.decisions.length,
  signals: sim.signals.length,
  seconds: Number(seconds.toFixed(2)),
  eventsPerSecond: Math.round(sim.applied / seconds),
  decisionsPerSecond: Math.round(sim.decisions.length / seconds),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
