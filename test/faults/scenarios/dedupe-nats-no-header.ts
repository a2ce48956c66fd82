/**
 * The event id is the idempotency key on every path: each event published twice straight to NATS without a
 * Nats-Msg-Id header (the stream stores both copies), and once more over HTTP. One send per id, state counts
 * each id once (issue 9: "Producers on NATS get no dedupe").
 */
import { driveHttp, driveNats, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';

export const scenario: Scenario = {
  name: 'dedupe-nats-no-header',
  description: '30 x 10 events published twice on NATS without Nats-Msg-Id, then again over HTTP',
  tags: ['fast', 'dedupe'],
  timeoutMs: 120_000,
  run: () =>
    withHarness({}, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 30, perConversation: 10 });
      const nc = await h.nc();
      // Each copy right after the other, per conversation in n order: e0, e0, e1, e1, ...
      const doubled = load.map((events) => events.flatMap((e) => [e, e]));
      await driveNats(nc, doubled, h.recorder, { msgId: 'none' });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder);
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true });
    }),
};
