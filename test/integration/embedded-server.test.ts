import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { AppError, ConfigError } from '../../src/errors/app-error.js';
import { startNatsServer } from '../../src/nats/embedded-server.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-embedded-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Pids of live processes whose command line mentions `needle` (Linux /proc). */
function processesWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('embedded-server - a missing binary is a ConfigError that names the fix', async (t) => {
  const dir = tempDir(t);
  for (const binary of ['parley-no-such-nats-server', join(dir, 'bin', 'nats-server')]) {
    const configPath = join(dir, 'conf', 'nats.conf');
    const err = await startNatsServer({
      binary,
      port: -1,
      storeDir: join(dir, 'store'),
      configPath,
      partitions: 4,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, ConfigError, binary);
    const message = (err as Error).message;
    t.match(message, binary);
    t.match(message, /apt-get install nats-server/);
    t.match(message, /nats\.url/);
    t.notOk(existsSync(configPath), 'nothing written before the check');
  }
});

t.test(
  'embedded-server - starts on a free port, serves JetStream, and stops without leftovers',
  async (t) => {
    const dir = tempDir(t);
    const configPath = join(dir, 'nats.conf');
    const server = await startNatsServer({
      port: -1,
      storeDir: join(dir, 'store'),
      configPath,
      partitions: 4,
      logFile: join(dir, 'nats.log'),
    });
    t.teardown(() => server.stop());
    t.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    t.ok(server.port > 0);
    t.ok(alive(server.pid));
    t.match(readFileSync(configPath, 'utf8'), /partition\(4,1,2\)/);
    const portsFile = join(dir, `nats-server_${server.pid}.ports`);
    t.same(JSON.parse(readFileSync(portsFile, 'utf8')).nats, [server.url]);

    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.getAccountInfo();
    t.equal(info.streams, 0, 'JetStream answers');
    await nc.close();

    await server.stop();
    await server.stop(); // idempotent
    t.notOk(alive(server.pid), 'process gone');
    t.notOk(existsSync(portsFile), 'ports file removed');
    t.match(readFileSync(join(dir, 'nats.log'), 'utf8'), /Server is ready/);
  },
);

t.test('embedded-server - a port in use fails with the server log and leaves no child behind', async (t) => {
  const dir = tempDir(t);
  const first = await startNatsServer({
    port: -1,
    storeDir: join(dir, 'a', 'store'),
    configPath: join(dir, 'a', 'nats.conf'),
    partitions: 4,
  });
  t.teardown(() => first.stop());

  for (const logFile of [join(dir, 'b', 'nats.log'), undefined]) {
    const configPath = join(dir, logFile ? 'b' : 'c', 'nats.conf');
    const started = Date.now();
    const err = await startNatsServer({
      port: first.port,
      storeDir: join(dir, 'b', 'store'),
      configPath,
      partitions: 4,
      logFile,
    }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    t.type(err, AppError, `log ${logFile ?? 'in memory'}`);
    const message = (err as Error).message;
    t.match(message, /exited .* before accepting connections/);
    t.match(message, /address already in use/, 'quotes the server log');
    t.match(message, /hint: another process already listens/);
    t.ok(Date.now() - started < 5_000, 'fails fast, not at the timeout');
    t.same(processesWith(configPath), [], 'no child left running');
  }
  t.ok(alive(first.pid), 'the server holding the port is untouched');
});
