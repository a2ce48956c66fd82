/**
 * kill -9 mid-send: a connector child process kills itself (SIGKILL, connectors.crashAt) between claim and
 * send, between send and record, or between record and ack; a second process takes over after AckWait.
 * Nothing reaches the simulated platform or the webhook receiver twice:
 * - platform DM (Idempotency-Key): the stale claim is resent with the same key; the platform replays;
 * - webhook (no way to ask the receiver): the stale claim is dead-lettered as ambiguous, never resent,
 *   and an operator redrive delivers it once when it had not arrived;
 * - crash after the record: the action is acked without sending.
 */
import t, { type Test } from 'tap';
import { type DeadLetterStore, DeadLetters } from '../../src/connectors/dead-letters.js';
import { NatsDeadLetterStore } from '../../src/nats/dlq-store.js';
import { JetStreamPublisher } from '../../src/nats/js-publisher.js';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import {
  action,
  deadLetters,
  outcomeEvents,
  publishActions,
  spawnConnectors,
  startSim,
} from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
const CONNECTORS = { ackWaitMs: 2000, sendTimeoutMs: 1000, maxThrottleWaitMs: 0, retryInitialMs: 100 };
const ACTIONS = 3;

type Channel = 'platform-dm' | 'webhook';

function channelConfig(channel: Channel, sim: SimPlatform): Record<string, unknown> {
  return channel === 'webhook'
    ? { webhook: { url: `${sim.url}/hooks/acme`, secret: 'whsec_c2VjcmV0LWZvci1jcmFzaC10ZXN0cw==' } }
    : { 'platform-dm': { url: sim.url } };
}

async function crashAndTakeOver(t: Test, channel: Channel, crashAt: 'claimed' | 'sent' | 'recorded') {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const sim = await startSim(t);
  const config = {
    partitions: PARTITIONS,
    connectors: CONNECTORS,
    tenants: { acme: { channels: channelConfig(channel, sim) } },
  };
  const h = await connect(t, nats.url);
  const first = spawnConnectors(t, nats.url, config, { PARLEY_CONNECTORS__CRASH_AT: crashAt });
  await first.waitForLine(/connectors running/);
  const actions = Array.from({ length: ACTIONS }, (_, i) => action('acme', `k${i}`, 1, channel));
  // One action meets the crash; the others arrive after the takeover, so the outcome is exact.
  await publishActions(h, actions.slice(0, 1), PARTITIONS);
  t.equal(await first.exited, null, `the first process died by SIGKILL at "${crashAt}"`);
  t.ok(
    first.lines.some((l) => l.includes('crash point reached')),
    'it reached the crash point',
  );
  const deliveredBeforeCrash = sim.stats().accepted;

  const second = spawnConnectors(t, nats.url, config);
  await second.waitForLine(/connectors running/);
  await publishActions(h, actions.slice(1), PARTITIONS);
  await waitFor(
    'every action settled',
    async () => {
      const sent = await outcomeEvents(h, 'action.sent');
      const failed = await outcomeEvents(h, 'action.failed');
      return sent.length + failed.length >= ACTIONS;
    },
    60_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  const stats = sim.stats();
  t.equal(stats.duplicates, 0, 'no duplicate reached the platform');
  for (const a of actions)
    t.ok(
      sim.requestCount(a.id) <= (channel === 'platform-dm' ? 2 : 1),
      `${a.id}: at most one delivery attempt reached the receiver per process that owned it`,
    );
  return { h, sim, stats, deliveredBeforeCrash, actions };
}

t.test(
  'connectors - kill -9 between claim and send (platform DM): resent with its idempotency key, delivered once',
  async (t) => {
    const { stats, h } = await crashAndTakeOver(t, 'platform-dm', 'claimed');
    t.equal(stats.accepted, ACTIONS, 'every action delivered exactly once');
    t.equal((await outcomeEvents(h, 'action.sent')).length, ACTIONS, 'one action.sent each');
  },
);

t.test(
  'connectors - kill -9 between send and record (platform DM): the resend is replayed by the platform, not delivered again',
  async (t) => {
    const { stats, deliveredBeforeCrash } = await crashAndTakeOver(t, 'platform-dm', 'sent');
    t.ok(deliveredBeforeCrash >= 1, 'the platform had the send before the crash');
    t.equal(stats.accepted, ACTIONS, 'every action delivered exactly once');
    t.ok(
      stats.replays >= 1,
      `the takeover resent with the same Idempotency-Key and got a replay (${stats.replays})`,
    );
  },
);

t.test(
  'connectors - kill -9 between send and record (webhook): dead-lettered as ambiguous, never resent',
  async (t) => {
    const { stats, h, actions } = await crashAndTakeOver(t, 'webhook', 'sent');
    t.equal(stats.accepted, ACTIONS, 'each webhook arrived once (the crashed one before the crash)');
    const dead = await deadLetters(h, 'dlq.webhook.acme');
    t.equal(dead.length, 1, 'one dead letter');
    t.equal(dead[0]!.reason, 'ambiguous', 'reason: ambiguous');
    t.match(
      dead[0]!.error,
      /cannot confirm whether it was delivered/,
      'the error says why it was not resent',
    );
    t.ok(actions.some((a) => a.id === (dead[0]!.action as { id: string }).id));
  },
);

t.test(
  'connectors - kill -9 between claim and send (webhook): ambiguous, not resent; redrive delivers once',
  async (t) => {
    const { stats, h, sim } = await crashAndTakeOver(t, 'webhook', 'claimed');
    t.equal(stats.accepted, ACTIONS - 1, 'the crashed action was not sent blindly');
    const dead = await deadLetters(h, 'dlq.webhook.acme');
    t.equal(dead.length, 1, 'it waits in the DLQ as ambiguous');
    t.equal(dead[0]!.reason, 'ambiguous');
    // An operator who checked the receiver redrives it; the surviving process delivers it.
    const store: DeadLetterStore = new NatsDeadLetterStore(h);
    await new DeadLetters(store, new JetStreamPublisher(h.js)).redrive(dead[0]!.seq, 'test');
    await waitFor('the redriven webhook', async () => sim.stats().accepted >= ACTIONS, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    t.equal(sim.stats().accepted, ACTIONS, 'delivered once after the redrive');
    t.equal(sim.stats().duplicates, 0, 'no duplicate');
  },
);

t.test('connectors - kill -9 between record and ack: acked without sending again', async (t) => {
  const { stats, h } = await crashAndTakeOver(t, 'platform-dm', 'recorded');
  t.equal(stats.accepted, ACTIONS, 'every action delivered exactly once');
  t.equal(stats.replays, 0, 'the takeover did not even resend: the record said sent');
  t.equal(
    (await outcomeEvents(h, 'action.sent')).length,
    ACTIONS,
    'the outcome of the crashed action exists once',
  );
});
