/**
 * SIGSTOP the nats-server for 8 s under load so publishes time out (the API answers 503 after its 1 s
 * publish timeout), then SIGCONT: the producer's retries with the same ids must not duplicate anything.
 */
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { until } from '../wait.js';

export const scenario: Scenario = {
  name: 'nats-sigstop',
  description: 'SIGSTOP nats-server 8 s under load (publish timeout 1 s), SIGCONT; 50 x 20 over HTTP',
  tags: ['nats'],
  timeoutMs: 200_000,
  run: () =>
    withHarness({ config: { http: { publishTimeoutMs: 1000, retryAfterSeconds: 1 } } }, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 50, perConversation: 20 });
      const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
        concurrency: 16,
        budgetMs: 120_000,
      });
      await h.receiver.waitFor('300 deliveries', () => h.receiver.acceptedCount() >= 300, 90_000);
      const node = h.nats.nodes[0]!;
      node.signal('SIGSTOP');
      h.faults++;
      const stoppedAt = Date.now();
      await until('8 s of a stopped server', () => Date.now() - stoppedAt >= 8000, 9000, 100);
      node.signal('SIGCONT');
      await driving;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(90_000);
      h.notes.push(`${h.recorder.retries} producer retries`);
      return h.result({ redeliveryIsViolation: false });
    }),
};
