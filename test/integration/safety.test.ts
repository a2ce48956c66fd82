/**
 * The safety layer end to end (actors + connectors + a simulated webhook receiver): a STOP message puts the
 * fan on DND and an action already in ACTIONS for that fan is not sent; an escalated conversation sends
 * nothing until resolved and resumes after; pause at every scope stops sends within a second and resume
 * restarts them; every unsafe send the tests could provoke is counted (must be 0).
 */
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { NatsSafetyStore } from '../../src/nats/safety-store.js';
import {
  listEscalations,
  pause,
  resolveEscalation,
  resume,
  showEscalation,
} from '../../src/ops/safety-ops.js';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { action, publishActions, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, publishEvents, startParley, streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
let unsafeSends = 0;

let n = 0;
function message(conversation: string, text: string, type = 'message.received'): EventEnvelope {
  n++;
  return {
    schema: 1,
    id: `${conversation}-m${n}`,
    type,
    tenant: 'acme',
    conversation,
    occurredAt: new Date().toISOString(),
    attributes: { text },
  };
}

/** Deliveries the simulated platform accepted for one conversation. */
function sendsTo(sim: SimPlatform, conversation: string): string[] {
  return sim
    .sends()
    .filter(
      (s) => !s.duplicate && (JSON.parse(s.body) as { conversation?: string }).conversation === conversation,
    )
    .map((s) => s.key ?? '');
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const sim = await startSim(t);
  const config = testConfig(t, nats.url, PARTITIONS, {
    tenants: {
      acme: { channels: { webhook: { url: `${sim.url}/hooks/acme`, secret: 'test-secret-1234' } } },
    },
    safety: { pause: { recheckMs: 200 } },
  });
  const parley = await startParley(t, config);
  const h = await connect(t, nats.url);
  const store = await NatsSafetyStore.open(h);
  return { sim, parley, h, store };
}

t.test(
  'safety - a STOP message enrolls DND and an action already in ACTIONS for that fan is not sent',
  async (t) => {
    const { sim, h, parley } = await setup(t);
    await publishEvents(h, [message('fan1', 'hi there')]);
    await waitFor('the first reply', async () => sendsTo(sim, 'fan1').length === 1);

    // An action decided earlier, due in 2 s: it sits in ACTIONS while the fan says STOP.
    const pending = action('acme', 'fan1', 999, 'webhook', { delayMs: 2000, rule: 'echo' });
    await publishActions(h, [pending], PARTITIONS);
    await publishEvents(h, [message('fan1', 'STOP')]);
    const kv = await h.kvm.open('parley-consent');
    const record = await waitFor('the consent record', async () => {
      const e = await kv.get('acme.fan1');
      return e?.length
        ? (JSON.parse(new TextDecoder().decode(e.value)) as Record<string, unknown>)
        : undefined;
    });
    t.match(record, { dnd: true, source: 'opt-out' }, 'the fan is on DND in parley-consent');
    await waitFor(
      'the pending action blocked at send time',
      async () => (await streamCount(h, 'AUDIT', 'audit.blocked.acme.fan1')) >= 1,
    );
    await publishEvents(h, [message('fan1', 'are you there?')]);
    await waitFor(
      'the later reply blocked by the gate',
      async () => (await streamCount(h, 'AUDIT', 'audit.compliance-blocked.acme.fan1')) >= 2,
    );
    await new Promise((r) => setTimeout(r, 2500));
    const sent = sendsTo(sim, 'fan1');
    t.equal(sent.length, 1, 'only the reply before STOP was sent');
    t.notOk(sent.includes(pending.id), 'the pending action was not sent');
    unsafeSends += sent.length - 1;
    const blocked = await h.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.blocked.acme.fan1' });
    t.match(decodeMsgpack(blocked!.data), { action: pending.id, reason: 'dnd', stage: 'pre-send' });
    t.equal(await streamCount(h, 'AUDIT', 'audit.opt-out.acme.fan1'), 1, 'the opt-out is audited');
    const metrics = await parley.registry.metrics();
    t.match(
      metrics,
      /parley_safety_decisions_total\{decision="blocked",guard="consent"\} [1-9]/,
      'decisions by guard',
    );
    t.match(metrics, /parley_safety_presend_total\{result="blocked",reason="dnd"\} 1/, 'pre-send verdicts');
  },
);

t.test('safety - an escalated conversation sends nothing until resolved, then resumes', async (t) => {
  const { sim, h, store } = await setup(t);
  await publishEvents(h, [message('calm', 'hello'), message('fan2', 'hello')]);
  await waitFor(
    'first replies',
    async () => sendsTo(sim, 'fan2').length === 1 && sendsTo(sim, 'calm').length === 1,
  );
  // Pending in ACTIONS when the escalation opens: held at send time too.
  const pending = action('acme', 'fan2', 999, 'webhook', { delayMs: 1500, rule: 'echo' });
  await publishActions(h, [pending], PARTITIONS);
  await publishEvents(h, [message('fan2', 'honestly I want to end my life')]);
  const [esc] = await waitFor('the escalation', async () => {
    const list = await listEscalations(store, { tenant: 'acme' });
    return list.length ? list : undefined;
  });
  t.match(esc, { escalationId: /^acme\.fan2\.\d+$/, reason: 'crisis', priority: 'urgent', status: 'open' });
  t.match(esc!.evidence, { snippet: /end my life/ }, 'the evidence snippet a reviewer needs');
  t.ok(esc!.suggestedNext, 'a suggested next step');
  await publishEvents(h, [message('fan2', 'hello?'), message('fan2', 'anyone?'), message('calm', 'and me')]);
  await waitFor('other conversations keep going', async () => sendsTo(sim, 'calm').length === 2);
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(sendsTo(sim, 'fan2').length, 1, 'nothing sent to the escalated fan, pending action included');
  unsafeSends += sendsTo(sim, 'fan2').length - 1;
  t.ok((await streamCount(h, 'AUDIT', 'audit.held.acme.fan2')) >= 3, 'held actions are audited');

  const result = await resolveEscalation(store, esc!.escalationId, { outcome: 'resume', by: 'test' });
  t.equal(result.duplicate, false);
  await waitFor(
    'held actions released and the pending one sent',
    async () => sendsTo(sim, 'fan2').length === 5,
  );
  t.ok(sendsTo(sim, 'fan2').includes(pending.id), 'the pending action went out after resume');
  t.match(await showEscalation(store, esc!.escalationId), { status: 'resolved' });
  await publishEvents(h, [message('fan2', 'thanks')]);
  await waitFor('automation resumed', async () => sendsTo(sim, 'fan2').length === 6);
  t.ok((await streamCount(h, 'AUDIT', 'audit.operator.acme.fan2')) >= 1, 'the operator action is audited');
});

t.test('safety - close stops automation; reply sends a human message through the normal path', async (t) => {
  const { sim, h, store } = await setup(t);
  await publishEvents(h, [
    message('abuser', 'I know where you live'),
    message('objector', 'I want a refund now'),
  ]);
  const list = await waitFor('two escalations', async () => {
    const l = await listEscalations(store, { tenant: 'acme' });
    return l.length === 2 ? l : undefined;
  });
  t.same(
    list.map((e) => [e.conversation, e.reason, e.priority]),
    [
      ['abuser', 'abuse', 'high'],
      ['objector', 'revenue-objection', 'normal'],
    ],
    'most urgent first',
  );
  await resolveEscalation(store, list[0]!.escalationId, { outcome: 'close', by: 'test' });
  await resolveEscalation(store, list[1]!.escalationId, {
    outcome: 'reply',
    reply: { text: 'So sorry, refund is on its way' },
  });
  await waitFor('the human reply', async () => sendsTo(sim, 'objector').length === 1);
  const reply = sim
    .sends()
    .find((s) => (JSON.parse(s.body) as { conversation: string }).conversation === 'objector');
  t.match(JSON.parse(reply!.body), {
    rule: 'operator',
    template: 'operator-reply',
    variables: { text: /refund is on its way/ },
  });
  await publishEvents(h, [message('abuser', 'hello'), message('objector', 'ok thanks')]);
  await waitFor('automation continues after the reply', async () => sendsTo(sim, 'objector').length === 2);
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(sendsTo(sim, 'abuser').length, 0, 'a closed conversation sends nothing');
  unsafeSends += sendsTo(sim, 'abuser').length;
  t.match(await showEscalation(store, list[0]!.escalationId), { status: 'closed' });
});

t.test(
  'safety - pause at each scope stops sends within a second; resume restarts them; kill drops',
  async (t) => {
    const { sim, h, store } = await setup(t);
    const scopes = [
      'global',
      'tenant:acme',
      'rule:echo',
      'channel:webhook',
      'conversation:acme/p4',
      'channel:acme/webhook',
    ];
    for (const [i, scope] of scopes.entries()) {
      const conv = `p${i}`;
      await pause(store, { scope, by: 'test' });
      // Within a second every process sees it (KV watch): publish right after that second.
      await new Promise((r) => setTimeout(r, 1000));
      const target = scope.startsWith('conversation:') ? 'p4' : conv;
      await publishEvents(h, [message(target, 'hi')]);
      await waitFor(
        `the gate saw the pause (${scope})`,
        async () => (await streamCount(h, 'AUDIT', `audit.deferred.acme.${target}`)) >= 1,
      );
      await new Promise((r) => setTimeout(r, 1200));
      t.equal(sendsTo(sim, target).length, 0, `paused at ${scope}: nothing sent`);
      unsafeSends += sendsTo(sim, target).length;
      await resume(store, { scope });
      await waitFor(`sent after resume (${scope})`, async () => sendsTo(sim, target).length === 1, 10_000);
      t.pass(`resumed ${scope}`);
    }
    await pause(store, { scope: 'tenant:acme', mode: 'kill' });
    await new Promise((r) => setTimeout(r, 1000));
    const pending = action('acme', 'killed', 1, 'webhook', { rule: 'echo' });
    await publishActions(h, [pending], PARTITIONS);
    await publishEvents(h, [message('killed', 'hi')]);
    await waitFor(
      'blocked at the gate and at send time',
      async () =>
        (await streamCount(h, 'AUDIT', 'audit.compliance-blocked.acme.killed')) >= 1 &&
        (await streamCount(h, 'AUDIT', 'audit.blocked.acme.killed')) >= 1,
    );
    await resume(store, { scope: 'tenant:acme' });
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(sendsTo(sim, 'killed').length, 0, 'killed actions are dropped, not sent on resume');
    unsafeSends += sendsTo(sim, 'killed').length;
  },
);

t.test('safety - unsafe sends provoked by these tests', async (t) => {
  t.comment(`unsafe sends: ${unsafeSends}`);
  t.equal(unsafeSends, 0);
});
