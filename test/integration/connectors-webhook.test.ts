/**
 * Webhook channel end to end: the echo rule's actions leave through the connector, signed per Standard
 * Webhooks and verified here with an independent implementation (the `standardwebhooks` package); a 5xx
 * is retried with the same webhook-id and delivered once; outcomes reach EVENTS.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { executionRecord, outcomeEvents, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, event, publishEvents, startParley, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;

t.test(
  'connectors - echo rule webhooks are signed per Standard Webhooks and verify independently',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const config = testConfig(t, nats.url, PARTITIONS, {
      tenants: { acme: { channels: { webhook: { url: `${sim.url}/hooks/acme`, secret } } } },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const events = Array.from({ length: 5 }, (_, i) =>
      event('acme', `c${i}`, 1, 'message.received', { attributes: { text: `hello ${i}` } }),
    );
    await publishEvents(h, events);

    await waitFor('5 webhook deliveries', async () => sim.stats().accepted >= 5);
    const sends = sim.sends({ channel: 'webhook' });
    t.equal(sends.length, 5, 'one delivery per received message');
    const verifier = new Webhook(secret);
    const seen = new Set<string>();
    for (const send of sends) {
      const payload = verifier.verify(send.body, {
        'webhook-id': send.headers['webhook-id']!,
        'webhook-timestamp': send.headers['webhook-timestamp']!,
        'webhook-signature': send.headers['webhook-signature']!,
      }) as Record<string, unknown>;
      const id = send.headers['webhook-id']!;
      seen.add(id);
      t.match(id, /^acme\.c\d\.\d+\.0$/, 'webhook-id is the deterministic action ID');
      t.match(send.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'signature is v1,<base64>');
      t.equal(payload.action, id, 'body.action is the action ID');
      t.equal(payload.tenant, 'acme');
      t.equal(payload.rule, 'echo');
      t.equal(payload.template, 'ack');
      t.equal(payload.type, 'action');
      t.same(payload.variables, {});
      const conv = payload.conversation as string;
      t.same(
        payload.event,
        { id: `${conv}-e1`, type: 'message.received', attributes: { text: `hello ${conv.slice(1)}` } },
        'the triggering event',
      );
    }
    t.equal(seen.size, 5, 'five distinct action IDs');
    t.throws(
      () =>
        verifier.verify(`${sends[0]!.body} `, {
          'webhook-id': sends[0]!.headers['webhook-id']!,
          'webhook-timestamp': sends[0]!.headers['webhook-timestamp']!,
          'webhook-signature': sends[0]!.headers['webhook-signature']!,
        }),
      'a tampered body does not verify',
    );

    for (const id of seen) {
      const record = await waitFor(`the execution record of ${id}`, async () => {
        const r = await executionRecord(h, id);
        return r?.status === 'sent' ? r : undefined;
      });
      t.equal(record.attempt, 1, `${id}: recorded sent, first attempt`);
    }
    t.same(
      await outcomeEvents(h, 'action.sent'),
      [],
      'no action.sent outcome events: nothing in the echo rule set consumes them',
    );
    t.equal(sim.stats().duplicates, 0, 'no duplicate delivery');
  },
);

t.test(
  'connectors - a webhook answered 5xx is retried with the same webhook-id and delivered once',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t);
    sim.addFault({ channel: 'webhook', status: 503, count: 2 });
    const secret = 'plain-dev-secret';
    const config = testConfig(t, nats.url, PARTITIONS, {
      tenants: { acme: { channels: { webhook: { url: `${sim.url}/hook`, secret } } } },
      connectors: { retryInitialMs: 100 },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    await publishEvents(h, [event('acme', 'r1', 1)]);

    await waitFor('the delivery', async () => sim.stats().accepted >= 1);
    await new Promise((r) => setTimeout(r, 500));
    const stats = sim.stats();
    t.equal(stats.failed, 2, 'two attempts answered 503');
    t.equal(stats.accepted, 1, 'then delivered');
    t.equal(stats.duplicates, 0, 'exactly once');
    const id = sim.sends()[0]!.headers['webhook-id']!;
    t.equal(sim.requestCount(id), 3, 'all three requests carried the same webhook-id');
    const verifier = new Webhook(Buffer.from(secret).toString('base64'));
    const send = sim.sends()[0]!;
    t.ok(
      verifier.verify(send.body, {
        'webhook-id': id,
        'webhook-timestamp': send.headers['webhook-timestamp']!,
        'webhook-signature': send.headers['webhook-signature']!,
      }),
      'a non-whsec secret signs with its UTF-8 bytes',
    );
    const record = await waitFor('the execution record', async () => {
      const r = await executionRecord(h, id);
      return r?.status === 'sent' ? r : undefined;
    });
    t.equal(record.attempt, 3, 'the execution record counts three attempts');
  },
);
