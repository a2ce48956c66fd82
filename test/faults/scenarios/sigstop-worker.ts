/**
 * SIGSTOP one of two worker processes past its lease TTL (3 s) and AckWait (5 s) while the other runs, then
 * SIGCONT: its partitions must have moved to the other process, and once it wakes it must be fenced (a lost
 * compare-and-set stops it) — nothing applied twice (state counters), nothing sent under two action IDs.
 */
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { until } from '../wait.js';

const STOPPED_MS = 10_000;

export const scenario: Scenario = {
  name: 'sigstop-worker',
  description:
    '2 processes; SIGSTOP one for 10 s (lease 3 s, AckWait 5 s) under load, SIGCONT; 40 x 20 over HTTP',
  tags: ['cluster', 'fencing'],
  timeoutMs: 240_000,
  run: () =>
    withHarness(
      { processes: 2, config: { runtime: { ackWaitMs: 5000 }, connectors: { ackWaitMs: 5000 } } },
      async (h) => {
        const [first] = h.processes;
        const load = plan({ tenant: TENANT, conversations: 40, perConversation: 20 });
        const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
          concurrency: 12,
          budgetMs: 150_000,
        });
        await h.receiver.waitFor('200 deliveries', () => h.receiver.acceptedCount() >= 200, 90_000);
        first!.signal('SIGSTOP');
        h.faults++;
        const stoppedAt = Date.now();
        const before = h.receiver.acceptedCount();
        // The other process must take over while this one sleeps: deliveries go on.
        await h.receiver
          .waitFor(
            'deliveries while a worker is stopped',
            () => h.receiver.acceptedCount() >= before + 50,
            STOPPED_MS + 20_000,
          )
          .catch((err) => h.notes.push(String(err)));
        await until('the stop period', () => Date.now() - stoppedAt >= STOPPED_MS, STOPPED_MS + 1000, 100);
        first!.signal('SIGCONT');
        await driving;
        await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
        await h.settle(90_000);
        const fenced = first!.grep(/fenc|lost.*(lease|cas)|compare-and-set/i).length;
        h.notes.push(`${fenced} log line(s) of the woken process mention fencing or a lost lease`);
        return h.result({ redeliveryIsViolation: false });
      },
    ),
};
