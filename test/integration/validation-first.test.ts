/**
 * Validation first (src/preflight.ts): a `parley start` whose configuration cannot work fails before it
 * starts an embedded server, connects or acquires anything. The case that motivated it: a second process
 * with an admin token equal to a tenant token used to take every partition lease (fencing the healthy
 * first process), and only then fail in the HTTP setup and exit, leaving nothing processing events.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { ConfigError } from '../../src/errors/app-error.js';
import { LEASES_BUCKET, start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  FIXTURE_RULES,
  spawnCli,
  startParley,
  TEST_CONFIG_FILE,
  tempDir,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 4;
const TENANT_TOKEN = 'validation-first-acme-token';
const tenants = { acme: { auth: { tokens: [TENANT_TOKEN] } } };
const silent = createLogger({ level: 'silent' });

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
  return err;
}

t.test(
  'validation-first - a second start with an admin token equal to a tenant token fails before connecting; the first keeps every lease',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const h = await connect(t, nats.url);
    // Static "all": the second process would take every lease over from the first if it got that far.
    const good = { tenants, admin: { tokens: ['validation-first-admin'] }, runtime: { partitions: 'all' } };
    const first = await startParley(t, testConfig(t, nats.url, PARTITIONS, good));
    await waitFor('first owns every partition', async () =>
      first.actors!.status().partitions.every((p) => p.state === 'running'),
    );
    const leases = await h.kvm.open(LEASES_BUCKET);
    const epochs = async () =>
      Promise.all(
        Array.from({ length: PARTITIONS }, async (_, p) => {
          const entry = await leases.get(`partitions.${p}`);
          const lease = decodeMsgpack(entry!.value) as { owner: string; epoch: number };
          return { owner: lease.owner, epoch: lease.epoch };
        }),
      );
    const before = await epochs();
    t.ok(
      before.every((l) => l.owner === first.owner),
      'the first holds every lease',
    );

    const bad = { ...good, admin: { tokens: [TENANT_TOKEN] } };
    const err = await rejection(start(testConfig(t, nats.url, PARTITIONS, bad), { logger: silent }));
    t.match(err.message, /nothing was started/);
    t.match(
      err.issues,
      [{ path: 'admin.tokens.0', message: /also configured at tenants\.acme\.auth\.tokens\.0/ }],
      'names both places the token is configured',
    );

    // The same configuration against a server that does not exist fails the same way: before connecting.
    const unreachable = await rejection(
      start(testConfig(t, 'nats://127.0.0.1:1', PARTITIONS, bad), { logger: silent }),
    );
    t.same(unreachable.issues, err.issues, 'the same issues without any NATS server');

    t.same(await epochs(), before, 'no lease was taken: same owner, same epoch on every partition');
    t.ok(
      first.actors!.status().partitions.every((p) => p.state === 'running'),
      'and the first still runs every partition',
    );
  },
);

t.test(
  'validation-first - every issue at once, before the embedded server is started or anything is written',
  async (t) => {
    const dir = tempDir(t, 'parley-preflight-');
    const rules = join(dir, 'rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'broken.yaml'), 'id: broken\non: message.received\ndo:\n  - template: ack\n');
    const dataDir = join(dir, 'data');
    const config = testConfig(t, 'unused', PARTITIONS, {
      nats: { url: undefined, embedded: { port: -1 } },
      dataDir,
      rules,
      tenants,
      admin: { tokens: [TENANT_TOKEN] },
      http: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'missing.pem'), key: join(dir, 'k.pem') } },
      runtime: { partitions: '0-99' },
    });
    const err = await rejection(start(config, { logger: silent }));
    const paths = err.issues.map((i) => i.path);
    t.ok(
      paths.some((p) => p.startsWith('broken.yaml:4')),
      `the rule file, line and field (${paths.join('; ')})`,
    );
    t.ok(paths.includes('admin.tokens.0'), 'the shared token');
    t.ok(paths.includes('http.tls.cert') && paths.includes('http.tls.key'), 'the missing TLS files');
    t.ok(paths.includes('runtime.partitions'), 'the partition set outside the partition count');
    t.notOk(existsSync(join(dataDir, 'nats.conf')), 'no embedded server configuration was written');
    t.notOk(existsSync(join(dataDir, 'nats-server.pid')), 'and no server was started');
  },
);

t.test('validation-first - parley start exits 2 with the issues and never connects', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const cli = spawnCli(t, ['start'], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_DATA_DIR: tempDir(t),
    PARLEY_PARTITIONS: String(PARTITIONS),
    PARLEY_RULES: FIXTURE_RULES,
    PARLEY_HTTP__PORT: '0',
    PARLEY_TENANTS: JSON.stringify(tenants),
    PARLEY_ADMIN__TOKENS: JSON.stringify([TENANT_TOKEN]),
  });
  t.equal(await cli.exited, 2, 'usage/config error exit code');
  const out = cli.lines.join('\n');
  t.match(out, /nothing was started/);
  t.match(out, /admin\.tokens\.0: the same token is also configured at tenants\.acme\.auth\.tokens\.0/);
  t.notMatch(out, /connected to NATS/, 'it never connected');
  const h = await connect(t, nats.url);
  t.same(await h.jsm.streams.names().next(), [], 'nothing was provisioned on the server (no stream exists)');
});
