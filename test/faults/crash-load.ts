/**
 * The shape shared by the crash scenarios: one Parley process under HTTP load is killed with SIGKILL — by its
 * own test hook at a point of a send (connectors.crashAt: claimed, sent, recorded) or from outside after a
 * number of deliveries (anywhere, the actor's state commit included) — and started again; the producer keeps
 * retrying with the same ids throughout. Every acknowledged event must be sent exactly once (a webhook-id
 * accepted twice is allowed: a send in flight at the crash is re-sent with the same key), in order.
 */
import { driveHttp, plan, sentinels } from './drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from './harness.js';

export function crashScenario(o: {
  name: string;
  description: string;
  /** The connectors' crash point, hit at the `crashAfter`-th send. */
  crashAt?: 'claimed' | 'sent' | 'recorded';
  crashAfter?: number;
  /** Outside kills instead: SIGKILL once the receiver has accepted each of these many deliveries. */
  killAtDeliveries?: number[];
  conversations?: number;
  perConversation?: number;
  tags?: string[];
}): Scenario {
  return {
    name: o.name,
    description: o.description,
    tags: o.tags ?? ['crash'],
    timeoutMs: 240_000,
    run: () =>
      withHarness({}, async (h) => {
        const p = h.processes[0]!;
        if (o.crashAt) {
          // The first start runs without the hook (streams applied, ready), the second arms it.
          h.reconfigure(p, { connectors: { crashAt: o.crashAt, crashAfter: o.crashAfter ?? 200 } });
          await p.stop('SIGTERM');
          await p.start();
        }
        const load = plan({
          tenant: TENANT,
          conversations: o.conversations ?? 50,
          perConversation: o.perConversation ?? 20,
        });
        const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
          concurrency: 16,
          budgetMs: 150_000,
        });
        if (o.crashAt) {
          await p.waitForExit(90_000);
          h.faults++;
          h.notes.push(`crashed at "${o.crashAt}" after ${h.receiver.acceptedCount()} deliveries`);
          h.reconfigure(p, {});
          await p.start();
        }
        for (const at of o.killAtDeliveries ?? []) {
          await h.receiver.waitFor(`${at} deliveries`, () => h.receiver.acceptedCount() >= at, 90_000);
          await p.stop('SIGKILL');
          h.faults++;
          await p.start();
        }
        await driving;
        await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
        await h.settle(90_000);
        return h.result({ redeliveryIsViolation: false });
      }),
  };
}
