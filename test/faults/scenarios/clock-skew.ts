/**
 * Clock skew in event timestamps: occurredAt from 1971, 2000, a year ago, up to 500 s ahead (within the 600 s
 * allowance) and shuffled within each conversation, on both paths. Order is the stream's (the producer's n),
 * never occurredAt's: every event sent once in n order. Events a day ahead are refused over HTTP with a 400
 * naming occurredAt, and never sent.
 */
import { driveHttp, driveNats, type PlannedEvent, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';

const SKEWS = [
  () => '1971-01-01T00:00:00Z',
  () => '2000-02-29T23:59:59.999+14:00',
  () => new Date(Date.now() - 365 * 86_400_000).toISOString(),
  () => new Date(Date.now() + 500_000).toISOString(),
  () => new Date(Date.now() - 3_600_000).toISOString().replace('Z', '-00:00'),
];

/** Deterministic shuffle of occurredAt within a conversation (n order stays the send order). */
function skewed(c: number, n: number): string {
  return SKEWS[(c * 7 + n * 3) % SKEWS.length]!();
}

export const scenario: Scenario = {
  name: 'clock-skew',
  description: 'occurredAt far past, near future, shuffled, on HTTP and NATS; a day ahead refused; 40 x 10',
  tags: ['fast', 'input'],
  timeoutMs: 120_000,
  run: () =>
    withHarness({}, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 40, perConversation: 10, occurredAt: skewed });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load.slice(0, 20), h.recorder);
      await driveNats(await h.nc(), load.slice(20), h.recorder, { msgId: 'scoped' });
      const ahead: PlannedEvent[][] = plan({
        tenant: TENANT,
        conversations: 5,
        perConversation: 1,
        prefix: 'ahead',
      }).map((evs) =>
        evs.map((e) => ({ ...e, occurredAt: new Date(Date.now() + 86_400_000).toISOString() })),
      );
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, ahead, h.recorder);
      const failures: string[] = [];
      const refused = h.recorder.rejected.filter((r) => r.status === 400 && r.body.includes('occurredAt'));
      if (refused.length !== ahead.length)
        failures.push(
          `${refused.length} of ${ahead.length} events a day ahead refused with a 400 naming occurredAt`,
        );
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true, failures });
    }),
};
