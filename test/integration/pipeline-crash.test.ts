import t from 'tap';
import { deadLetters, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, event, publishEvents, spawnCli, tempDir, waitFor } from '../helpers/parley.js';
import { checkWebhookHistory, waitForDeliveries, writeEchoConfig } from '../helpers/pipeline.js';

const PARTITIONS = 8;
const CONVERSATIONS = 100;
const PER_CONVERSATION = 30;

t.test(
  'pipeline - kill -9 mid-stream and restart: every event sent once, in order, no dead letters',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t, { perSecond: 1_000_000, burst: 1_000_000, latencyMs: 2 });
    const h = await connect(t, nats.url);
    const dir = tempDir(t, 'parley-crash-');
    const file = writeEchoConfig(dir, {
      natsUrl: nats.url,
      simUrl: sim.url,
      partitions: PARTITIONS,
      leaseTtlMs: 3000,
    });
    const start = () => spawnCli(t, ['start', '--roles', 'actors,connectors'], { PARLEY_CONFIG: file });

    const events = [];
    for (let n = 0; n < PER_CONVERSATION; n++)
      for (let c = 0; c < CONVERSATIONS; c++) events.push(event('acme', `k${c}`, n));
    const first = start();
    await first.waitForLine(/actors running/);
    // Publish in slices; kill the process once it is busy sending.
    let killedAt = -1;
    for (let i = 0; i < events.length; i += 300) {
      await publishEvents(h, events.slice(i, i + 300));
      if (killedAt < 0 && sim.stats().accepted > 400) {
        first.proc.kill('SIGKILL');
        killedAt = sim.stats().accepted;
      }
      await new Promise((r) => setTimeout(r, 30));
    }
    if (killedAt < 0) {
      await waitFor('sends under way', async () => sim.stats().accepted > 400, 60_000);
      first.proc.kill('SIGKILL');
      killedAt = sim.stats().accepted;
    }
    t.equal(await first.exited, null, `killed by SIGKILL after ${killedAt} deliveries`);
    t.ok(killedAt < events.length, 'mid-stream: not everything was sent before the kill');

    // The producer did not know which publishes landed: it retries all of them, same ids.
    const retried = await publishEvents(h, events);
    t.ok(
      retried.every((r) => r.duplicate),
      'every retried publish was recognised as a duplicate',
    );

    const second = start();
    await second.waitForLine(/actors running/);
    const reached = await waitForDeliveries(() => sim.sends(), events.length);
    t.equal(
      reached,
      events.length,
      'every accepted event delivered (or the checks below name what is missing)',
    );
    const report = checkWebhookHistory(
      events.map((e) => ({ conversation: e.conversation, n: e.attributes.n as number })),
      sim.sends(),
    );
    t.same(report.lost, [], 'no accepted event without its send');
    t.same(report.duplicates, [], 'no event sent under two action IDs');
    t.same(report.orderViolations, [], 'every conversation in event order');
    t.equal(sim.stats().duplicates, 0, 'the receiver accepted no webhook-id twice');
    t.comment(`webhooks resent under their webhook-id and deduped by the receiver: ${sim.stats().replays}`);
    t.same(await deadLetters(h), [], 'nothing dead-lettered: the restart needed no operator');
    second.proc.kill('SIGTERM');
    t.equal(await second.exited, 0, 'clean exit');
  },
);
