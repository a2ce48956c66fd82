/**
 * Duplicate floods: every event sent three times at once over HTTP with the same ids, then again with the same
 * ids and different payloads (attributes.n + 1000, an extra field), then once more straight to NATS with the
 * tenant-scoped Nats-Msg-Id. Each id must be applied and sent once, with the first payload. Over HTTP the
 * stream itself says "duplicate"; the NATS copies cannot match HTTP's Nats-Msg-Ids (keyed with the
 * deployment's dedupe secret, so no producer can pre-empt them): the stream stores them and the actors'
 * per-conversation id record acks them without effect.
 */
import { driveHttp, driveNats, type PlannedEvent, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';

const CONVERSATIONS = 40;
const PER_CONVERSATION = 10;

function variant(load: PlannedEvent[][]): PlannedEvent[][] {
  return load.map((events) => events.map((e) => ({ ...e, attributes: { n: e.n + 1000, variant: 'b' } })));
}

export const scenario: Scenario = {
  name: 'duplicate-flood',
  description: 'each of 40 x 10 events sent 3x at once (HTTP), again with other payloads, again on NATS',
  tags: ['fast', 'dedupe'],
  timeoutMs: 150_000,
  run: () =>
    withHarness({}, async (h) => {
      const load = plan({ tenant: TENANT, conversations: CONVERSATIONS, perConversation: PER_CONVERSATION });
      await Promise.all([1, 2, 3].map(() => driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder)));
      // Same ids, other payloads: all duplicates. A variant that got through is delivered with n + 1000 under
      // another action ID: the checker reports it as a duplicate.
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, variant(load), h.recorder, { batch: 5 });
      await driveNats(await h.nc(), variant(load), h.recorder, { msgId: 'scoped' });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      const failures: string[] = [];
      const fresh = h.recorder.acked.filter((e) => !e.duplicate && e.path !== 'nats').length;
      const want = CONVERSATIONS * (PER_CONVERSATION + 1);
      if (fresh !== want) failures.push(`${fresh} acknowledgements said "not a duplicate"; expected ${want}`);
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true, failures: failures.slice(0, 20) });
    }),
};
