import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ConfigError } from '../../src/errors/app-error.js';
import { connectNats } from '../../src/nats/connection.js';
import { type Definitions, loadDefinitions } from '../../src/nats/definitions.js';
import { applyDefinitions, DEPLOYMENT_BUCKET, PARTITIONS_KEY } from '../../src/nats/provision.js';
import { startTestNats } from '../helpers/nats-server.js';

const DAY = 86_400_000_000_000;
const nats = await startTestNats(t, { partitions: 8 });
const handles = await connectNats({ url: nats.url, reconnect: false });
t.teardown(() => handles.nc.close());
const defs = loadDefinitions(fileURLToPath(new URL('../../streams', import.meta.url)));
const partitions = nats.partitions;

/** The shipped definitions with one stream's fields changed. */
function withStream(name: string, change: Record<string, unknown>): Definitions {
  return {
    ...defs,
    streams: defs.streams.map((s) =>
      s.config.name === name ? { ...s, config: { ...s.config, ...change } } : s,
    ),
  };
}

async function refusal(promise: Promise<unknown>): Promise<ConfigError | undefined> {
  return promise.then(
    () => undefined,
    (err: unknown) => (err instanceof ConfigError ? err : Promise.reject(err)),
  );
}

const streamNames = defs.streams.map((s) => s.config.name).sort();
const bucketNames = defs.buckets.map((b) => b.bucket).sort();

t.test(
  'provision - the first apply creates every stream and bucket and records the partition count',
  async (t) => {
    const report = await applyDefinitions(handles, defs, { partitions });
    t.equal(report.dryRun, false);
    const created = (kind: string) =>
      report.changes
        .filter((c) => c.kind === kind && c.action === 'created')
        .map((c) => c.name)
        .sort();
    t.same(created('stream'), streamNames);
    t.same(created('bucket'), bucketNames);
    t.same(created('deployment'), [PARTITIONS_KEY]);

    const names: string[] = [];
    for await (const name of handles.jsm.streams.names()) names.push(name);
    for (const name of streamNames) t.ok(names.includes(name), `stream ${name} exists`);
    const events = await handles.jsm.streams.info('EVENTS');
    t.same(events.config.subjects, ['evt.>']);
    t.equal(events.config.max_age, 7 * DAY);
    t.equal(events.config.duplicate_window, 600_000_000_000);
    t.equal(events.config.storage, 'file');
    t.equal(events.config.allow_direct, true);

    const kv = await handles.kvm.open(DEPLOYMENT_BUCKET);
    t.equal((await kv.get(PARTITIONS_KEY))?.string(), String(partitions));
  },
);

t.test('provision - buckets are real KV buckets that Kvm.list (nats kv ls) shows', async (t) => {
  const listed = new Map<string, { history: number; ttl: number; description: string; replicas: number }>();
  for await (const status of handles.kvm.list()) listed.set(status.bucket, status);
  t.same([...listed.keys()].sort(), bucketNames);
  t.equal(listed.get('parley-rules')?.history, 10);
  t.equal(listed.get('parley-state')?.history, 1);
  t.equal(listed.get('parley-executions')?.ttl, 7 * 24 * 3600 * 1000, 'ttl in ms');
  t.ok([...listed.values()].every((b) => b.replicas === 1));
  t.match(listed.get('parley-state')?.description, /Conversation state/);

  const state = await handles.kvm.open('parley-state');
  const rev = await state.create('acme.c1', 'v1');
  await state.update('acme.c1', 'v2', rev);
  await t.rejects(state.update('acme.c1', 'v3', rev), 'compare-and-set refuses a stale revision');
});

t.test('provision - a second apply reports everything unchanged', async (t) => {
  const report = await applyDefinitions(handles, defs, { partitions });
  t.same(
    report.changes.filter((c) => c.action !== 'unchanged'),
    [],
    'nothing to do: server defaults are not reported as differences',
  );
  t.equal(report.changes.length, streamNames.length + bucketNames.length + 1);
  t.ok(report.changes.every((c) => c.diff.length === 0));
});

t.test(
  'provision - a changed max_age is an update with a per-field diff; dry run changes nothing',
  async (t) => {
    const changed = withStream('EVENTS', { max_age: DAY });
    const dry = await applyDefinitions(handles, changed, { partitions, dryRun: true });
    t.equal(dry.dryRun, true);
    const planned = dry.changes.find((c) => c.name === 'EVENTS');
    t.equal(planned?.action, 'updated');
    t.equal((await handles.jsm.streams.info('EVENTS')).config.max_age, 7 * DAY, 'dry run left it alone');

    const report = await applyDefinitions(handles, changed, { partitions });
    const events = report.changes.find((c) => c.kind === 'stream' && c.name === 'EVENTS');
    t.equal(events?.action, 'updated');
    t.same(events?.diff, ['EVENTS: max_age 604800000000000 (7d) -> 86400000000000 (1d)']);
    t.same(
      report.changes.filter((c) => c.action !== 'unchanged').map((c) => c.name),
      ['EVENTS'],
      'only EVENTS changed',
    );
    t.equal((await handles.jsm.streams.info('EVENTS')).config.max_age, DAY);

    const back = await applyDefinitions(handles, defs, { partitions });
    t.same(back.changes.find((c) => c.name === 'EVENTS')?.diff, [
      'EVENTS: max_age 86400000000000 (1d) -> 604800000000000 (7d)',
    ]);
  },
);

t.test('provision - bucket changes are updates with a diff', async (t) => {
  const changed: Definitions = {
    ...defs,
    buckets: defs.buckets.map((b) => (b.bucket === 'parley-rules' ? { ...b, history: 20 } : b)),
  };
  const report = await applyDefinitions(handles, changed, { partitions });
  t.same(report.changes.find((c) => c.name === 'parley-rules')?.diff, ['parley-rules: history 10 -> 20']);
  const status = await (await handles.kvm.open('parley-rules')).status();
  t.equal(status.history, 20);
  await applyDefinitions(handles, defs, { partitions });
});

t.test('provision - another partition count is refused unless allowDestructive', async (t) => {
  const err = await refusal(applyDefinitions(handles, defs, { partitions: partitions * 2 }));
  t.ok(err, 'refused');
  t.match(err?.message, /--allow-destructive/);
  t.match(
    err?.message,
    new RegExp(`set up with ${partitions} partitions, the configuration asks for ${partitions * 2}`),
  );
  t.match(err?.message, /parley-deployment\/partitions/);
  t.equal(err?.code, 'CONFIG_INVALID');
  const kv = await handles.kvm.open(DEPLOYMENT_BUCKET);
  t.equal((await kv.get(PARTITIONS_KEY))?.string(), String(partitions), 'still recorded as before');

  const dry = await refusal(applyDefinitions(handles, defs, { partitions: partitions * 2, dryRun: true }));
  t.ok(dry, 'a dry run says so too');

  const report = await applyDefinitions(handles, defs, {
    partitions: partitions * 2,
    allowDestructive: true,
  });
  const deployment = report.changes.find((c) => c.kind === 'deployment');
  t.equal(deployment?.action, 'updated');
  t.same(deployment?.diff, [`partitions: ${partitions} -> ${partitions * 2}`]);
  t.equal((await kv.get(PARTITIONS_KEY))?.string(), String(partitions * 2));

  await applyDefinitions(handles, defs, { partitions, allowDestructive: true });
  t.equal((await kv.get(PARTITIONS_KEY))?.string(), String(partitions), 'restored');
});

t.test('provision - storage and retention changes and removed subjects are refused', async (t) => {
  await handles.js.publish('dlq.webhook.acme', 'dead');
  for (const [change, pattern] of [
    [{ storage: 'memory' }, /storage "file" -> "memory" cannot be changed in place.*losing its 1 messages/],
    [{ retention: 'workqueue' }, /retention "limits" -> "workqueue"/],
    [{ subjects: ['dlq.webhook.>'] }, /subjects \["dlq\.>"\] would be removed/],
  ] as const) {
    const err = await refusal(applyDefinitions(handles, withStream('DLQ', change), { partitions }));
    t.match(err?.message, pattern, JSON.stringify(change));
    t.match(err?.message, /stream DLQ/);
    t.match(err?.message, /--allow-destructive/);
  }
  const info = await handles.jsm.streams.info('DLQ');
  t.equal(info.config.storage, 'file', 'untouched');
  t.equal(info.state.messages, 1);
});

t.test('provision - with allowDestructive a storage change recreates the stream', async (t) => {
  const report = await applyDefinitions(handles, withStream('DLQ', { storage: 'memory' }), {
    partitions,
    allowDestructive: true,
  });
  const dlq = report.changes.find((c) => c.name === 'DLQ');
  t.equal(dlq?.action, 'updated');
  t.same(dlq?.diff, ['DLQ: storage "file" -> "memory"', 'DLQ: recreated (existing messages deleted)']);
  const info = await handles.jsm.streams.info('DLQ');
  t.equal(info.config.storage, 'memory');
  t.equal(info.state.messages, 0);

  await applyDefinitions(handles, defs, { partitions, allowDestructive: true });
  t.equal((await handles.jsm.streams.info('DLQ')).config.storage, 'file', 'back to the definition');
  const again = await applyDefinitions(handles, defs, { partitions });
  t.same(
    again.changes.filter((c) => c.action !== 'unchanged'),
    [],
  );
});

t.test('provision - processes starting together on an empty server all succeed', async (t) => {
  // A cluster's processes start at once: every one plans "create", one wins, the others must not fail
  // start-up on the server's "subjects overlap with an existing stream" answer.
  const fresh = await startTestNats(t, { partitions: 8 });
  const conns = await Promise.all(
    Array.from({ length: 6 }, () => connectNats({ url: fresh.url, reconnect: false })),
  );
  t.teardown(() => Promise.all(conns.map((c) => c.nc.close())));
  const results = await Promise.allSettled(
    conns.map((c) => applyDefinitions(c, defs, { partitions: fresh.partitions })),
  );
  t.same(
    results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
    [],
    'no process failed',
  );
  const again = await applyDefinitions(conns[0]!, defs, { partitions: fresh.partitions });
  t.same(
    again.changes.filter((c) => c.action !== 'unchanged').map((c) => c.name),
    [],
    'what the racing processes left is exactly the definitions',
  );
});

t.test(
  'provision - a create that loses the race to another process updates instead of failing',
  async (t) => {
    // Deterministic form of the race above: every stream and bucket is created by "another process" (a
    // second connection) between this process's plan and its create, whose answer is then the one
    // nats-server 2.9 gave the loser in CI.
    const fresh = await startTestNats(t, { partitions: 8 });
    const other = await connectNats({ url: fresh.url, reconnect: false });
    const mine = await connectNats({ url: fresh.url, reconnect: false });
    t.teardown(() => Promise.all([other.nc.close(), mine.nc.close()]));
    const lost = new Error('subjects overlap with an existing stream');
    const streams = mine.jsm.streams;
    const add = streams.add.bind(streams);
    let raced = 0;
    streams.add = async (config) => {
      raced++;
      await other.jsm.streams.add(config);
      throw lost;
    };
    const kvm = mine.kvm;
    kvm.create = async (name, opts) => {
      raced++;
      await other.kvm.create(name, opts);
      throw lost;
    };
    const report = await applyDefinitions(mine, defs, { partitions: fresh.partitions });
    streams.add = add;
    t.equal(raced, streamNames.length + bucketNames.length, 'every create lost the race');
    t.ok(
      report.changes.some((c) => c.action === 'created'),
      'reported as planned',
    );
    const again = await applyDefinitions(mine, defs, { partitions: fresh.partitions });
    t.same(
      again.changes.filter((c) => c.action !== 'unchanged').map((c) => c.name),
      [],
      'what is left is exactly the definitions',
    );
  },
);
