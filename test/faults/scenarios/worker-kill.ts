/**
 * Three worker processes share the partitions; one is killed with SIGKILL under load and not restarted: its
 * partitions must move to the others (about two lease TTLs) with nothing lost, duplicated or reordered; then
 * a fourth joins and takes a share.
 */
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';

export const scenario: Scenario = {
  name: 'worker-kill',
  description: '3 processes; SIGKILL one under load (not restarted), then a 4th joins; 40 x 20 over HTTP',
  tags: ['cluster', 'crash'],
  timeoutMs: 300_000,
  run: () =>
    withHarness({ processes: 3 }, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 40, perConversation: 20 });
      const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
        concurrency: 12,
        budgetMs: 180_000,
      });
      await h.receiver.waitFor('200 deliveries', () => h.receiver.acceptedCount() >= 200, 90_000);
      const victim = h.processes[0]!;
      const killedAt = Date.now();
      await victim.stop('SIGKILL');
      h.faults++;
      const before = h.receiver.acceptedCount();
      await h.receiver.waitFor(
        'deliveries after the kill',
        () => h.receiver.acceptedCount() >= before + 100,
        60_000,
      );
      h.notes.push(`100 more deliveries ${Date.now() - killedAt} ms after the kill`);
      const joiner = h.addProcess();
      await joiner.start();
      h.faults++;
      await driving;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(90_000);
      return h.result({ redeliveryIsViolation: false });
    }),
};
