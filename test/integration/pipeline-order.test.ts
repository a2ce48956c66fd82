/**
 * End to end, one process: events published to ingest.<tenant>.<conversation>.message.received, the echo
 * rule, webhooks to the simulated platform. With the receiver failing one request in 50 (503), or answering
 * 429 with Retry-After (rate limited), every conversation receives its sends in event order, each event's
 * send once, none lost, and nothing is dead-lettered.
 */
import t from 'tap';
import { startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, event, publishEvents, startParley, testConfig } from '../helpers/parley.js';
import { checkWebhookHistory, waitForDeliveries } from '../helpers/pipeline.js';

const PARTITIONS = 8;
const CONVERSATIONS = 50;
const PER_CONVERSATION = 20;

for (const mode of ['503 one in 50', '429 with Retry-After'] as const) {
  t.test(`pipeline - ${mode}: every conversation's sends in event order, once, none lost`, async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(
      t,
      mode === '503 one in 50'
        ? { failureRate: 0.02, perSecond: 1_000_000, burst: 1_000_000 }
        : { perSecond: 150, burst: 20 },
    );
    const config = testConfig(t, nats.url, PARTITIONS, {
      tenants: {
        acme: {
          channels: {
            webhook: { url: `${sim.url}/hooks/acme`, secret: 'whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ=' },
          },
        },
      },
      connectors: { retryInitialMs: 50, retryMaxMs: 400 },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const events = [];
    for (let n = 0; n < PER_CONVERSATION; n++)
      for (let c = 0; c < CONVERSATIONS; c++) events.push(event('acme', `c${c}`, n));
    await publishEvents(h, events);

    const total = CONVERSATIONS * PER_CONVERSATION;
    const reached = await waitForDeliveries(() => sim.sends(), total);
    t.equal(reached, total, 'every accepted event delivered (or the checks below name what is missing)');
    const stats = sim.stats();
    if (mode === '503 one in 50') t.ok(stats.failed > 0, `the receiver failed ${stats.failed} requests`);
    else t.ok(stats.rateLimited > 0, `the receiver rate-limited ${stats.rateLimited} requests`);

    const report = checkWebhookHistory(
      events.map((e) => ({ conversation: e.conversation, n: e.attributes.n as number })),
      sim.sends(),
    );
    t.same(report.lost, [], 'no event without its send');
    t.same(report.duplicates, [], 'no event sent under two action IDs');
    t.same(report.orderViolations, [], 'every conversation in event order');
    t.equal(report.redeliveries, 0, 'no webhook-id delivered twice (no crash here)');
    t.equal(stats.duplicates, 0, 'the receiver saw no duplicate');
  });
}
