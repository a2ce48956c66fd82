/**
 * The scheduler role wired in `parley start`: a due schedule publishes its event, once, to every stored
 * conversation of the tenant, and records the run so a second process does not repeat it.
 */
import { join } from 'node:path';
import t from 'tap';
import { type Parley, start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  event,
  publishEvents,
  ROOT,
  readState,
  streamCount,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 2;

t.test('scheduler-role - a due schedule fires once for every conversation of the tenant', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const config = testConfig(t, nats.url, PARTITIONS, {
    rules: join(ROOT, 'test/fixtures/rules-schedule'),
    tenants: { acme: { timeZone: 'Europe/Paris' } },
  });
  const h = await connect(t, nats.url);
  const actors: Parley = await start(config, {
    roles: ['actors'],
    logger: createLogger({ level: 'silent' }),
  });
  t.teardown(() => actors.stop());
  await publishEvents(
    h,
    ['s1', 's2', 's3'].map((c) => event('acme', c, 0)),
  );
  await waitFor('states stored', async () => (await readState(h, 'acme', 's3')) !== undefined);

  const first = await start(config, {
    roles: ['scheduler'],
    logger: createLogger({ level: 'silent' }),
    provision: false,
  });
  t.teardown(() => first.stop());
  await waitFor(
    'campaign events for the three conversations',
    async () => (await streamCount(h, 'EVENTS', 'evt.*.acme.*.campaign.tick')) >= 3,
  );
  const second = await start(config, {
    roles: ['scheduler'],
    logger: createLogger({ level: 'silent' }),
    provision: false,
  });
  t.teardown(() => second.stop());
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(
    await streamCount(h, 'EVENTS', 'evt.*.acme.*.campaign.tick'),
    3,
    'exactly one per conversation, not repeated by a second scheduler',
  );
  const s1 = await waitFor('the actor applied it', async () => {
    const s = await readState(h, 'acme', 's1');
    return s && (s.state.counts['campaign.tick'] ?? 0) >= 1 ? s : undefined;
  });
  t.equal(s1.state.counts['campaign.tick'], 1);
  const metrics = await waitFor('the run counted', async () => {
    const text = await first.registry.metrics();
    return /^parley_scheduler_runs_total\{schedule="[^"]+"\} 1$/m.test(text) ? text : undefined;
  });
  t.match(metrics, /^parley_scheduler_events_total 3$/m, 'and the events it published');
});
