/**
 * kill -9 mid-send: a partition owner (`--roles actors,connectors`) kills itself (SIGKILL,
 * connectors.crashAt) between claim and send, between send and record, or between record and ack; a second
 * process takes the expired leases over and resumes the ACTIONS consumers from their ack floor. Nothing is
 * delivered twice as an effect, and no operator is needed:
 * - platform DM (Idempotency-Key) and webhook (webhook-id, which Standard Webhooks receivers dedupe on):
 *   the stale claim is resent with the same key; a receiver that had it replays;
 * - a webhook channel set to `uncertain: dead-letter` (a receiver that does not dedupe): dead-lettered as
 *   ambiguous, never resent, and an operator redrive delivers it once;
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

function channelConfig(channel: Channel, sim: SimPlatform, deadLetter: boolean): Record<string, unknown> {
  return channel === 'webhook'
    ? {
        webhook: {
          url: `${sim.url}/hooks/acme`,
          secret: 'whsec_c2VjcmV0LWZvci1jcmFzaC10ZXN0cw==',
          ...(deadLetter ? { uncertain: 'dead-letter' } : {}),
        },
      }
    : { 'platform-dm': { url: sim.url } };
}

async function crashAndTakeOver(
  t: Test,
  channel: Channel,
  crashAt: 'claimed' | 'sent' | 'recorded',
  deadLetter = false,
) {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const sim = await startSim(t);
  const config = {
    partitions: PARTITIONS,
    connectors: CONNECTORS,
    tenants: { acme: { channels: channelConfig(channel, sim, deadLetter) } },
  };
  const h = await connect(t, nats.url);
  const first = spawnConnectors(t, nats.url, config, { PARLEY_CONNECTORS__CRASH_AT: crashAt });
  await first.waitForLine(/actors running/);
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
  await second.waitForLine(/actors running/);
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
      sim.requestCount(a.id) <= (deadLetter ? 1 : 2),
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
  'connectors - kill -9 between send and record (webhook): resent with the same webhook-id, which the receiver dedupes',
  async (t) => {
    const { stats, h, deliveredBeforeCrash } = await crashAndTakeOver(t, 'webhook', 'sent');
    t.ok(deliveredBeforeCrash >= 1, 'the receiver had the webhook before the crash');
    t.equal(stats.accepted, ACTIONS, 'each webhook accepted once');
    t.ok(stats.replays >= 1, `the takeover resent it under the same webhook-id (${stats.replays} replay)`);
    t.equal(
      (await deadLetters(h, 'dlq.webhook.acme')).length,
      0,
      'nothing dead-lettered: no operator needed',
    );
    t.equal((await outcomeEvents(h, 'action.sent')).length, ACTIONS, 'one action.sent each');
  },
);

t.test('connectors - kill -9 between claim and send (webhook): sent once by the new owner', async (t) => {
  const { stats, h } = await crashAndTakeOver(t, 'webhook', 'claimed');
  t.equal(stats.accepted, ACTIONS, 'every webhook delivered once');
  t.equal((await deadLetters(h, 'dlq.webhook.acme')).length, 0, 'nothing dead-lettered');
});

t.test(
  'connectors - kill -9 between claim and send (webhook, uncertain: dead-letter): ambiguous, never resent; redrive delivers once',
  async (t) => {
    const { stats, h, sim } = await crashAndTakeOver(t, 'webhook', 'claimed', true);
    t.equal(stats.accepted, ACTIONS - 1, 'the crashed action was not sent blindly');
    const dead = await deadLetters(h, 'dlq.webhook.acme');
    t.equal(dead.length, 1, 'it waits in the DLQ as ambiguous');
    t.equal(dead[0]!.reason, 'ambiguous');
    t.match(
      dead[0]!.error,
      /cannot confirm whether it was delivered/,
      'the error says why it was not resent',
    );
    // An operator who checked the receiver redrives it; the surviving process delivers it.
    const store: DeadLetterStore = new NatsDeadLetterStore(h);
    await new DeadLetters(store, new JetStreamPublisher(h.js)).redrive(dead[0]!.seq, 'test');
    await waitFor('the redriven webhook', async () => sim.stats().accepted >= ACTIONS, 30_000);
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
