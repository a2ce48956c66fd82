/**
 * Order per conversation: an action that is retried (503 twice) holds the later actions of its own
 * conversation, which then leave in decision order; another conversation is not held.
 */
import t from 'tap';
import { action, publishActions, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, startParley, testConfig, waitFor } from '../helpers/parley.js';

t.test(
  'connectors - a retrying action holds its own conversation only; sends leave in decision order',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 4 });
    const sim = await startSim(t);
    const config = testConfig(t, nats.url, 4, {
      tenants: { acme: { channels: { 'platform-dm': { url: sim.url } } } },
      connectors: { retryInitialMs: 400, retryMaxMs: 1000 },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const a = Array.from({ length: 4 }, (_, i) => action('acme', 'held', i + 1, 'platform-dm'));
    const b = Array.from({ length: 4 }, (_, i) => action('acme', 'free', i + 1, 'platform-dm'));
    sim.addFault({ key: a[0]!.id, status: 503, count: 2 });
    await publishActions(h, [a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!, b[3]!], 4);

    await waitFor('8 deliveries', async () => sim.stats().accepted >= 8, 30_000);
    const order = sim.sends().map((s) => s.key);
    const held = order.filter((k) => k?.startsWith('acme.held.'));
    const free = order.filter((k) => k?.startsWith('acme.free.'));
    t.same(
      held,
      a.map((x) => x.id),
      'the retried conversation left in decision order',
    );
    t.same(
      free,
      b.map((x) => x.id),
      'the other conversation in order too',
    );
    t.ok(
      order.indexOf(b[3]!.id) < order.indexOf(a[0]!.id),
      'the other conversation was not held by the retry',
    );
    t.equal(sim.requestCount(a[0]!.id), 3, 'the first action was tried three times');
    t.equal(sim.stats().duplicates, 0, 'no duplicate');
  },
);
