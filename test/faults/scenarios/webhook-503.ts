/**
 * Webhook endpoint answering 503 to one request in 50 during load, one Parley process: every acknowledged
 * event delivered once, each conversation's sends in order (issue 9's first finding).
 */
import { driveHttp, plan } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';

export const scenario: Scenario = {
  name: 'webhook-503',
  description: 'receiver answers 503 to 1 request in 50; 50 conversations x 20 messages over HTTP, 1 process',
  tags: ['fast', 'webhook'],
  timeoutMs: 150_000,
  run: () =>
    withHarness({ fault: { kind: 'fail', every: 50, status: 503 } }, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 50, perConversation: 20 });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, { concurrency: 16 });
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true });
    }),
};
