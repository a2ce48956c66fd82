/**
 * The opt-out confirmation end to end (actors + connectors + the simulated platform, real nats-server): one
 * STOP gets exactly one confirmation on the platform; a later message and a second STOP get nothing, and no
 * further action is even published for the fan.
 */
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { confirmationId, OPT_OUT_CONFIRMATION_RULE } from '../../src/safety/opt-out-confirmation.js';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, publishEvents, startParley, streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 2;

function message(conversation: string, id: string, text: string): EventEnvelope {
  return {
    schema: 1,
    id,
    type: 'message.received',
    tenant: 'acme',
    conversation,
    occurredAt: new Date().toISOString(),
    attributes: { text },
  };
}

/** What the platform accepted for one conversation (duplicates included: there must be none). */
function sendsTo(sim: SimPlatform, conversation: string) {
  return sim
    .sends()
    .filter((s) => (JSON.parse(s.body) as { conversation?: string }).conversation === conversation)
    .map((s) => ({
      key: s.key,
      duplicate: s.duplicate,
      body: JSON.parse(s.body) as Record<string, unknown>,
    }));
}

t.test(
  'safety opt-out confirmation - one STOP, exactly one confirmation on the platform; nothing after, a second STOP included',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t);
    const config = testConfig(t, nats.url, PARTITIONS, {
      tenants: {
        acme: { channels: { webhook: { url: `${sim.url}/hooks/acme`, secret: 'test-secret-1234' } } },
      },
      safety: {
        optOut: { confirmation: { channel: 'webhook', text: 'You are unsubscribed. No more messages.' } },
      },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const actionsFor = (c: string) => streamCount(h, 'ACTIONS', `act.*.webhook.acme.${c}`);
    const audits = (kind: string, c: string) => streamCount(h, 'AUDIT', `audit.${kind}.acme.${c}`);

    await publishEvents(h, [message('fan1', 'fan1-hi', 'hi there')]);
    await waitFor('the reply before STOP', async () => sendsTo(sim, 'fan1').length === 1);

    await publishEvents(h, [message('fan1', 'fan1-stop', 'STOP')]);
    await waitFor('the confirmation', async () => sendsTo(sim, 'fan1').length === 2);
    const confirmation = sendsTo(sim, 'fan1')[1]!;
    t.match(
      confirmation.body,
      {
        rule: OPT_OUT_CONFIRMATION_RULE,
        template: 'opt-out-confirmation',
        variables: { text: 'You are unsubscribed. No more messages.' },
      },
      'the confirmation reached the platform through the webhook connector',
    );
    t.equal(confirmation.key, confirmationId('acme', 'fan1', 'fan1-stop'), 'its ID is the opt-out event’s');
    const optOut = await h.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.opt-out.acme.fan1' });
    t.match(
      decodeMsgpack(optOut!.data),
      { confirmation: { action: confirmation.key, channel: 'webhook' } },
      'the opt-out audit record names its confirmation',
    );

    // A later message and a second STOP: both decided (audited), nothing more published or sent.
    await publishEvents(h, [
      message('fan1', 'fan1-later', 'are you still there?'),
      message('fan1', 'fan1-stop-2', 'stop'),
    ]);
    await waitFor('the second STOP decided', async () => (await audits('opt-out', 'fan1')) === 2);
    const second = await h.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.opt-out.acme.fan1' });
    t.match(
      decodeMsgpack(second!.data),
      { already: true },
      'the second STOP is recorded as already opted out',
    );
    t.ok(
      (await audits('compliance-blocked', 'fan1')) >= 3,
      "the rule's replies to STOP, later, STOP blocked",
    );
    t.equal(await actionsFor('fan1'), 2, 'ACTIONS holds only the first reply and the one confirmation');
    // Every action published for the fan has reached the platform once: nothing is left to send later.
    const sent = sendsTo(sim, 'fan1');
    t.equal(sent.length, 2, 'the platform got the reply and one confirmation, nothing more');
    t.same(
      sent.map((s) => s.duplicate),
      [false, false],
      'and no duplicate',
    );
    t.equal(
      sent.filter((s) => s.body.rule === OPT_OUT_CONFIRMATION_RULE).length,
      1,
      'exactly one confirmation',
    );
  },
);
