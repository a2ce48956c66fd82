/**
 * Restart the single nats-server (SIGKILL, then start on the same port and store) under load, twice: Parley
 * reconnects, the producer retries its unanswered requests with the same ids; acknowledged writes survive a
 * process crash of the server (2.9 fsyncs lazily: power loss is another matter, see README "Reliability").
 */
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { waitForJetStream } from '../nats-cluster.js';

export const scenario: Scenario = {
  name: 'nats-restart',
  description: 'SIGKILL + restart of the single nats-server after 250 and 600 deliveries; 50 x 20 over HTTP',
  tags: ['nats', 'crash'],
  timeoutMs: 240_000,
  run: () =>
    withHarness({}, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 50, perConversation: 20 });
      const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
        concurrency: 16,
        budgetMs: 150_000,
      });
      for (const at of [250, 600]) {
        await h.receiver.waitFor(`${at} deliveries`, () => h.receiver.acceptedCount() >= at, 90_000);
        await h.nats.nodes[0]!.restart('SIGKILL');
        h.faults++;
        await waitForJetStream(h.nats.urls, 30_000);
      }
      await driving;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(90_000);
      return h.result({ redeliveryIsViolation: false });
    }),
};
