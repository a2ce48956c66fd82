import t from 'tap';
import type { NatsHandles } from '../../src/nats/connection.js';
import { startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  type ChildParley,
  childOwner,
  connect,
  event,
  publishEvents,
  readLeases,
  readState,
  spawnCli,
  tempDir,
  waitFor,
} from '../helpers/parley.js';
import { checkWebhookHistory, waitForDeliveries, writeEchoConfig } from '../helpers/pipeline.js';

const PARTITIONS = 12;
const LEASE_TTL_MS = 3000;
const CONVERSATIONS = 30;

type Teardown = Parameters<typeof tempDir>[0];

function spawnWorker(t: Teardown, file: string): ChildParley {
  return spawnCli(t, ['start', '--roles', 'actors,connectors'], { PARLEY_CONFIG: file });
}

/** Owner -> partitions owned (live, not released) from the lease records. */
async function ownership(h: NatsHandles): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [p, l] of (await readLeases(h, PARTITIONS)).entries()) {
    if (!l || l.released) continue;
    out.set(l.owner, [...(out.get(l.owner) ?? []), p]);
  }
  return out;
}

/** Waits until exactly `owners` own every partition, each its even share; returns the time it took. */
async function balancedAmong(h: NatsHandles, owners: string[], timeoutMs = 40_000): Promise<number> {
  const started = Date.now();
  const share = PARTITIONS / owners.length;
  await waitFor(
    `partitions split ${share} each among ${owners.length} processes`,
    async () => {
      const o = await ownership(h);
      return (
        o.size === owners.length &&
        owners.every((id) => o.get(id)?.length === share) &&
        [...o.values()].flat().length === PARTITIONS
      );
    },
    timeoutMs,
    100,
  );
  return Date.now() - started;
}

t.test(
  'pipeline - three processes: even split; kill, join, pause and graceful stop move partitions with nothing lost, duplicated or reordered',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t, { perSecond: 1_000_000, burst: 1_000_000 });
    const h = await connect(t, nats.url);
    const dir = tempDir(t, 'parley-cluster-');
    const file = writeEchoConfig(dir, {
      natsUrl: nats.url,
      simUrl: sim.url,
      partitions: PARTITIONS,
      leaseTtlMs: LEASE_TTL_MS,
    });

    const workers = [spawnWorker(t, file), spawnWorker(t, file), spawnWorker(t, file)];
    const owners = await Promise.all(workers.map((w) => childOwner(w)));
    await balancedAmong(h, owners);
    t.pass('three processes split the partitions 4 / 4 / 4');

    // A steady load for the whole scenario: one event per conversation per round.
    const accepted: Array<{ conversation: string; n: number }> = [];
    let rounds = 0;
    let loading = true;
    const load = (async () => {
      while (loading && rounds < 400) {
        const batch = Array.from({ length: CONVERSATIONS }, (_, c) => event('acme', `m${c}`, rounds));
        await publishEvents(h, batch);
        for (const e of batch) accepted.push({ conversation: e.conversation, n: rounds });
        rounds++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // kill -9 one: its partitions move to the two others.
    await waitFor('some deliveries', async () => sim.stats().accepted > CONVERSATIONS * 3, 30_000);
    workers[0]!.proc.kill('SIGKILL');
    await workers[0]!.exited;
    const moveMs = await balancedAmong(h, [owners[1]!, owners[2]!]);
    t.pass(`after kill -9 the partitions moved to the survivors in ${moveMs} ms`);

    // A new process joins and takes its share, handed over gracefully.
    const joiner = spawnWorker(t, file);
    const joinerOwner = await childOwner(joiner);
    const joinStarted = Date.now();
    await balancedAmong(h, [owners[1]!, owners[2]!, joinerOwner]);
    t.pass(`a joining process took its share in ${Date.now() - joinStarted} ms`);

    // SIGSTOP one past its lease TTL: the others take its partitions; SIGCONT: it is fenced, then rejoins.
    workers[1]!.proc.kill('SIGSTOP');
    await balancedAmong(h, [owners[2]!, joinerOwner]);
    workers[1]!.proc.kill('SIGCONT');
    await workers[1]!.waitForLine(/fenced|lease taken over|no longer owned/, 30_000);
    t.pass('the paused process found itself fenced when it resumed');
    await balancedAmong(h, [owners[1]!, owners[2]!, joinerOwner]);
    t.pass('and rejoined with its share');

    // Graceful stop: it drains and releases; the others take its partitions.
    workers[2]!.proc.kill('SIGTERM');
    t.equal(await workers[2]!.exited, 0, 'the stopped process exited cleanly');
    await balancedAmong(h, [owners[1]!, joinerOwner]);
    t.pass('its partitions were handed over');

    loading = false;
    await load;
    t.ok(rounds > 20, `${rounds} rounds of ${CONVERSATIONS} events published during the faults`);
    const reached = await waitForDeliveries(() => sim.sends(), accepted.length);
    t.equal(
      reached,
      accepted.length,
      'every accepted event delivered (or the checks below name what is missing)',
    );
    const report = checkWebhookHistory(accepted, sim.sends());
    if (report.lost.length > 0) {
      // Where the missing sends are: each partition's owner and what its consumers still hold.
      const leases = await readLeases(h, PARTITIONS);
      for (const stream of ['EVENTS', 'ACTIONS']) {
        for await (const c of h.jsm.consumers.list(stream)) {
          const p = Number(c.name.slice(-2));
          t.comment(
            `${stream} ${c.name}: pending ${c.num_pending}, unacked ${c.num_ack_pending}, ack floor ${c.ack_floor.stream_seq}, owner ${leases[p]?.owner} epoch ${leases[p]?.epoch}${leases[p]?.released ? ' released' : ''}`,
          );
        }
      }
      t.comment(`lost (first 20): ${report.lost.slice(0, 20).join(' ')}`);
    }
    t.same(report.lost, [], 'no event without its send');
    t.same(report.duplicates, [], 'no event sent under two action IDs');
    t.same(report.orderViolations, [], 'every conversation in event order');
    t.comment(`webhook-ids resent after the kill / pause (replayed by the receiver): ${sim.stats().replays}`);

    for (let c = 0; c < CONVERSATIONS; c++) {
      const s = await readState(h, 'acme', `m${c}`);
      const applied = (s?.state.counts as Record<string, number> | undefined)?.['message.received'];
      if (applied !== rounds) {
        t.fail(`m${c}: ${applied} message.received applied, ${rounds} published`);
        return;
      }
    }
    t.pass(`every conversation applied each of its ${rounds} events exactly once`);
  },
);
