/**
 * Rate limits against the simulated platform's per-account limit (20/s, burst 5):
 * - without a token bucket the platform answers a storm of 429s; every action still arrives exactly once
 *   (Retry-After honoured, nothing dropped);
 * - with the shared token bucket (parley-tokens KV) two connector processes together never send more than
 *   the bucket allows: no 429 at all, and no window of arrivals above burst + rate x window (give or take
 *   100 ms of grant-to-arrival jitter).
 */
import t from 'tap';
import { action, publishActions, spawnConnectors, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, startParley, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
const RATE = { perSecond: 20, burst: 5 };

t.test(
  'connectors - a 429 storm without a bucket: Retry-After honoured, every action delivered once',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t, { accounts: { acme: RATE } });
    const config = testConfig(t, nats.url, PARTITIONS, {
      tenants: { acme: { channels: { 'platform-dm': { url: sim.url } } } },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const actions = Array.from({ length: 40 }, (_, i) => action('acme', `s${i}`, 1, 'platform-dm'));
    await publishActions(h, actions, PARTITIONS);
    await waitFor('40 deliveries', async () => sim.stats().accepted >= 40, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    const stats = sim.stats();
    t.ok(stats.rateLimited > 0, `the platform answered 429 (${stats.rateLimited} times): this is a storm`);
    t.equal(stats.accepted, 40, 'every action delivered');
    t.equal(stats.duplicates, 0, 'none twice');
  },
);

t.test('connectors - two connector processes sharing a KV token bucket never exceed it', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  // 300 ms of refill (6 sends at 20/s) as tolerance for jitter between the bucket's grant and the arrival on a
  // loaded 2-core machine (an event loop busy with two Parley processes and the test); the arrival windows
  // below are held to 100 ms.
  const sim = await startSim(t, { accounts: { acme: RATE }, rateLeewayMs: 300 });
  const childConfig = {
    partitions: PARTITIONS,
    tenants: { acme: { channels: { 'platform-dm': { url: sim.url, rate: RATE } } } },
  };
  const a = spawnConnectors(t, nats.url, childConfig);
  const b = spawnConnectors(t, nats.url, childConfig);
  await Promise.all([a.waitForLine(/connectors running/), b.waitForLine(/connectors running/)]);
  const h = await connect(t, nats.url);
  const total = 80;
  const started = Date.now();
  await publishActions(
    h,
    Array.from({ length: total }, (_, i) => action('acme', `b${i}`, 1, 'platform-dm')),
    PARTITIONS,
  );
  await waitFor(`${total} deliveries`, async () => sim.stats().accepted >= total, 60_000);
  const elapsed = (Date.now() - started) / 1000;

  const stats = sim.stats();
  t.equal(stats.accepted, total, 'every action delivered');
  t.equal(stats.duplicates, 0, 'none twice');
  t.equal(stats.rateLimited, 0, 'the platform never had to answer 429');
  const times = sim
    .sends()
    .map((s) => s.at)
    .sort((x, y) => x - y);
  // Tokens are granted when the bucket is read, requests arrive a few ms later: allow 100 ms of that jitter.
  const jitterMs = 100;
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const allowed = RATE.burst + (RATE.perSecond * (times[j]! - times[i]! + jitterMs)) / 1000;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  t.ok(
    worst <= 0,
    `no window of arrivals exceeds burst + rate x (window + 100 ms) (closest: ${worst.toFixed(2)} sends from the limit)`,
  );
  t.ok(
    elapsed >= (total - RATE.burst) / RATE.perSecond - 0.5,
    `paced by the bucket: ${elapsed.toFixed(1)} s for ${total} sends`,
  );

  a.proc.kill('SIGTERM');
  b.proc.kill('SIGTERM');
  await Promise.all([a.exited, b.exited]);
  const acked = (lines: string[]) =>
    lines
      .filter((l) => l.includes('connector stopped'))
      .map((l) => (JSON.parse(l) as { acked: number }).acked)[0] ?? 0;
  const [ackedA, ackedB] = [acked(a.lines), acked(b.lines)];
  t.ok(ackedA > 0 && ackedB > 0, `both processes sent (${ackedA} and ${ackedB} actions)`);
});
