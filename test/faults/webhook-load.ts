/**
 * The shape shared by the webhook fault scenarios: one Parley process, the echo rule, the receiver in one
 * fault mode for the whole load, every conversation's events over HTTP in order. No crash, so a webhook-id
 * accepted twice is a violation here (a send the runner should have known succeeded).
 */
import { driveHttp, plan } from './drivers.js';
import { type HarnessOptions, type Scenario, TENANT, TENANT_TOKEN, withHarness } from './harness.js';
import type { FaultMode } from './receiver.js';

export function webhookScenario(o: {
  name: string;
  description: string;
  fault: FaultMode;
  conversations?: number;
  perConversation?: number;
  tags?: string[];
  timeoutMs?: number;
  harness?: HarnessOptions;
}): Scenario {
  return {
    name: o.name,
    description: o.description,
    tags: o.tags ?? ['webhook'],
    timeoutMs: o.timeoutMs ?? 150_000,
    run: () =>
      withHarness({ ...o.harness, fault: o.fault }, async (h) => {
        const load = plan({
          tenant: TENANT,
          conversations: o.conversations ?? 50,
          perConversation: o.perConversation ?? 20,
        });
        await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, { concurrency: 16 });
        await h.settle(90_000);
        return h.result({ redeliveryIsViolation: true });
      }),
  };
}
