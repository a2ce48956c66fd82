/**
 * `parley partitions [--json] [--members]` (src/cli/commands/partitions.ts) against a real nats-server and
 * real actor processes: each partition's owner, epoch, state and lag from the parley-leases bucket and the
 * actors-pNN / connectors-pNN consumers, and the members sharing them.
 */
import { join } from 'node:path';
import t from 'tap';
import { type MemberRow, type PartitionRow, readPartitionReport } from '../../src/cli/commands/partitions.js';
import { LEASES_BUCKET, type Parley, start } from '../../src/main.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { KvVersionedStore } from '../../src/nats/kv-versioned-store.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  event,
  publishEvents,
  ROOT,
  spawnCli,
  TEST_CONFIG_FILE,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 4;

const provision = (h: NatsHandles) =>
  applyDefinitions(h, loadDefinitions(join(ROOT, 'streams')), { partitions: PARTITIONS });

async function cliJson<T>(t: Parameters<typeof spawnCli>[0], natsUrl: string, args: string[]): Promise<T> {
  const cli = spawnCli(t, ['partitions', ...args], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: natsUrl,
    PARLEY_PARTITIONS: String(PARTITIONS),
    PARLEY_LOG__LEVEL: 'warn',
  });
  const code = await cli.exited;
  if (code !== 0) throw new Error(`parley partitions exited ${code}:\n${cli.lines.join('\n')}`);
  return JSON.parse(cli.lines.filter((l) => !l.startsWith('{"level"')).join('\n')) as T;
}

t.test('partitions - before any process: every partition unowned, no lag known', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const h = await connect(t, nats.url);
  const bare = spawnCli(t, ['partitions'], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_PARTITIONS: String(PARTITIONS),
  });
  t.equal(await bare.exited, 1, 'nothing provisioned yet: a failure...');
  t.match(bare.lines.join('\n'), /no parley-leases bucket on this server/, '...that says why');
  await provision(h);
  const rows = await cliJson<PartitionRow[]>(t, nats.url, ['--json']);
  t.equal(rows.length, PARTITIONS);
  t.match(rows[0], { partition: 0, owner: null, epoch: null, state: 'unowned', lag: null });
  t.ok(rows.every((r) => r.state === 'unowned'));
});

t.test('partitions - two processes: owners, epochs, lag and members; then released', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const h = await connect(t, nats.url);
  const run = async (): Promise<Parley> => {
    const p = await start(testConfig(t, nats.url, PARTITIONS), {
      roles: ['actors', 'connectors'],
      logger: createLogger({ level: 'silent' }),
      drainMs: 3000,
    });
    t.teardown(() => p.stop());
    return p;
  };
  const a = await run();
  const b = await run();
  const running = (p: Parley) => p.actors!.status().partitions.filter((x) => x.state === 'running').length;
  await waitFor(
    'the two split the partitions',
    async () => running(a) + running(b) === PARTITIONS && running(a) > 0 && running(b) > 0,
    60_000,
  );

  const rows = await cliJson<PartitionRow[]>(t, nats.url, ['--json']);
  t.equal(rows.length, PARTITIONS, 'one row per partition');
  for (const r of rows) {
    t.ok([a.owner, b.owner].includes(r.owner!), `partition ${r.partition} owned by one of the two`);
    t.match(r, { state: 'owned', member: true, lagEvents: Number, lag: Number });
    t.ok(r.epoch! >= 1, 'with its lease epoch');
  }
  const byOwner = (o: string) => rows.filter((r) => r.owner === o).map((r) => r.partition);
  t.same(
    byOwner(a.owner),
    a
      .actors!.status()
      .partitions.filter((x) => x.state === 'running')
      .map((x) => x.partition),
    'matches what the first process says it runs',
  );

  const members = await cliJson<MemberRow[]>(t, nats.url, ['--members', '--json']);
  t.same(members.map((m) => m.owner).sort(), [a.owner, b.owner].sort(), 'both members listed');
  t.equal(
    members.reduce((n, m) => n + m.partitions.length, 0),
    PARTITIONS,
    'their partitions add up',
  );
  t.match(members[0], { mode: 'dynamic', startedAt: String });

  const text = spawnCli(t, ['partitions'], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_PARTITIONS: String(PARTITIONS),
  });
  t.equal(await text.exited, 0);
  const out = text.lines.join('\n');
  t.match(out, /^partition\s+owner\s+epoch\s+state\s+lag\s+events\s+actions$/m, 'a table');
  t.match(out, new RegExp(`${PARTITIONS} partitions: ${PARTITIONS} owned`));
  t.match(out, /members \(2\):/);

  // Both stop gracefully: leases released, consumers kept; events published now wait as lag.
  await Promise.all([a.stop(), b.stop()]);
  await publishEvents(
    h,
    Array.from({ length: 12 }, (_, i) => event('acme', `lag-${i}`, i)),
  );
  const after = await readPartitionReport(h, { partitions: PARTITIONS, leaseTtlMs: 3000 });
  t.ok(
    after.partitions.every((r) => r.state === 'released'),
    'every lease released',
  );
  t.equal(
    after.partitions.reduce((n, r) => n + (r.lagEvents ?? 0), 0),
    12,
    'the 12 unprocessed events show as lag',
  );
  t.same(after.members, [], 'graceful stops leave the membership');
});

t.test('partitions - a lease not renewed for a ttl is expired', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const h = await connect(t, nats.url);
  await provision(h);
  const store = new KvVersionedStore(await h.kvm.open(LEASES_BUCKET));
  await store.save('partitions.2', { owner: 'gone-1', epoch: 7, renewedAt: Date.now() }, 0);
  const fresh = await readPartitionReport(h, { partitions: PARTITIONS, leaseTtlMs: 60_000 });
  t.match(fresh.partitions[2], { owner: 'gone-1', epoch: 7, state: 'owned', member: false });
  const later = await readPartitionReport(h, {
    partitions: PARTITIONS,
    leaseTtlMs: 60_000,
    now: Date.now() + 61_000,
  });
  t.match(later.partitions[2], { owner: 'gone-1', epoch: 7, state: 'expired' });
});
