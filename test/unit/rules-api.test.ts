import { join } from 'node:path';
import t from 'tap';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { evaluateRequest } from '../../src/rules/evaluate.js';
import { loadRuleSet } from '../../src/rules/rule-set.js';
import { Simulator } from '../../src/rules/simulator.js';
import { triggerRequest } from '../../src/rules/trigger.js';

const rules = loadRuleSet(join(import.meta.dirname, '../../rules'));
const NOW = Date.parse('2026-02-01T10:00:00Z');

t.test('evaluate - what the rules would decide, from the stored state, with no side effects', async (t) => {
  const sim = new Simulator(rules);
  sim.apply({
    schema: 1,
    id: 'p1',
    type: 'purchase.completed',
    tenant: 'acme',
    conversation: 'c1',
    occurredAt: new Date(NOW - 1000).toISOString(),
    attributes: { amount: 450 },
  });
  const stored = sim.state('acme', 'c1')!;
  const before = JSON.stringify(stored);
  const res = await evaluateRequest({ rules, loadState: async () => stored, now: () => NOW }, 'acme', {
    conversation: 'c1',
    event: { type: 'purchase.completed', attributes: { amount: 100 } },
  });
  t.equal(res.allowed, true);
  t.equal(res.rulesVersion, rules.version);
  t.same(
    res.signals.map((s) => s.type),
    ['detector.spend_changed'],
  );
  t.match(res.decisions, [
    {
      rule: 'spend-milestone',
      variables: { milestone: 500, total: 550 },
      eventType: 'detector.spend_changed',
    },
  ]);
  t.equal(JSON.stringify(stored), before, 'the stored state is untouched');
  const nothing = await evaluateRequest({ rules, loadState: async () => undefined, now: () => NOW }, 'acme', {
    conversation: 'c2',
    event: { type: 'unknown.event' },
  });
  t.equal(nothing.allowed, false);
  await t.rejects(
    evaluateRequest({ rules, loadState: async () => undefined }, 'acme', {
      conversation: 'a.b',
      event: { type: 'x' },
    }),
  );
});

t.test('trigger - publishes an admin.trigger event and audits it; unknown names are refused', async (t) => {
  const published: EventEnvelope[] = [];
  const audits: Array<Record<string, unknown>> = [];
  const deps = {
    rules,
    publishEvent: async (e: EventEnvelope) => {
      published.push(e);
      return { seq: published.length, duplicate: false };
    },
    audit: async (r: Record<string, unknown>) => void audits.push(r),
    now: () => NOW,
  };
  const res = await triggerRequest(deps, 'acme', 'ops@acme', {
    conversation: 'c9',
    journey: 'follow-back',
    reason: 'manual',
  });
  t.equal(published[0]!.type, 'admin.trigger');
  t.same(published[0]!.attributes, { journey: 'follow-back', by: 'ops@acme' });
  t.match(audits[0], { action: 'trigger', by: 'ops@acme', journey: 'follow-back', eventId: res.id });
  const sim = new Simulator(rules);
  t.match(
    sim.apply(published[0]!, NOW),
    [{ journey: 'follow-back', step: 'dm' }],
    'the actor starts the journey',
  );
  await t.rejects(triggerRequest(deps, 'acme', 'ops', { conversation: 'c9', rule: 'nope' }), /unknown rule/);
  await t.rejects(triggerRequest(deps, 'acme', 'ops', { conversation: 'c9' }));
});

t.test('evaluate - a blocked action is reported with the guard that blocked it', async (t) => {
  const { SafetySchema } = await import('../../src/config/safety-schema.js');
  const { SafetyPolicy } = await import('../../src/safety/policy.js');
  const { createSafetyGate } = await import('../../src/safety/safety-gate.js');
  const gate = createSafetyGate(new SafetyPolicy(SafetySchema.parse({}), {} as never));
  // The fan opted out: its own state now says do-not-disturb.
  const sim = new Simulator(rules, { gate });
  sim.apply({
    schema: 1,
    id: 'stop',
    type: 'message.received',
    tenant: 'acme',
    conversation: 'c9',
    occurredAt: new Date(NOW - 60_000).toISOString(),
    attributes: { text: 'STOP' },
  });
  const stored = sim.state('acme', 'c9')!;
  const res = await evaluateRequest({ rules, gate, loadState: async () => stored, now: () => NOW }, 'acme', {
    conversation: 'c9',
    event: { type: 'message.received', attributes: { text: 'hello again' } },
  });
  t.equal(res.allowed, false);
  t.same(res.decisions, []);
  t.ok(res.blocked.length > 0, 'the stopped actions are listed');
  t.match(res.blocked[0], { rule: 'echo', channel: 'webhook', decision: 'blocked', reason: /dnd|opt/ });
  t.ok(res.blocked[0]!.guards.length > 0, 'with every guard verdict');
});
