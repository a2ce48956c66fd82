/**
 * A three-node JetStream cluster (R3 streams, single-replica KV buckets as 2.9.x requires for CAS) with three
 * Parley processes under load: kill -9 the EVENTS stream leader, restart it; then kill -9 a follower, restart
 * it. Nothing acknowledged is lost, nothing sent twice under two action IDs, each conversation in order.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Harness, type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { waitForJetStream } from '../nats-cluster.js';
import { until } from '../wait.js';

async function eventsCluster(h: Harness): Promise<{ leader: string; replicas: string[] }> {
  const jsm = await jetstreamManager(await h.nc());
  const info = await jsm.streams.info('EVENTS');
  return { leader: info.cluster?.leader ?? '', replicas: (info.cluster?.replicas ?? []).map((r) => r.name) };
}

export const scenario: Scenario = {
  name: 'cluster-node-loss',
  description:
    '3-node cluster, 3 processes; kill -9 the EVENTS leader then a follower (each restarted); 40 x 20',
  tags: ['cluster', 'nats'],
  timeoutMs: 360_000,
  run: () =>
    withHarness({ natsNodes: 3, processes: 3 }, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 40, perConversation: 20 });
      const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
        concurrency: 12,
        budgetMs: 240_000,
      });
      for (const [at, role] of [
        [200, 'leader'],
        [500, 'follower'],
      ] as const) {
        await h.receiver.waitFor(`${at} deliveries`, () => h.receiver.acceptedCount() >= at, 120_000);
        const { leader, replicas } = await until('EVENTS cluster info', () => eventsCluster(h), 20_000);
        const name = role === 'leader' ? leader : replicas[0];
        const node = h.nats.nodes.find((n) => n.spec.name === name);
        if (!node)
          throw new Error(`no node named ${name} (leader ${leader}, replicas ${replicas.join(',')})`);
        await node.kill('SIGKILL');
        h.faults++;
        h.notes.push(`killed ${role} ${name} at ${h.receiver.acceptedCount()} deliveries`);
        if (role === 'leader') {
          await until(
            'a new EVENTS leader',
            async () => {
              const c = await eventsCluster(h);
              return c.leader && c.leader !== name ? c.leader : undefined;
            },
            30_000,
            250,
          )
            .then((l) => h.notes.push(`new leader ${l}`))
            .catch((err) => h.notes.push(String(err)));
        }
        await node.start();
        await waitForJetStream(h.nats.urls, 30_000);
      }
      await driving;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(120_000);
      return h.result({ redeliveryIsViolation: false });
    }),
};
