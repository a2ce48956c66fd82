/**
 * kill -9 of `parley start` in embedded mode (src/nats/embedded-server.ts): the embedded nats-server must not
 * outlive its parent holding the port and the store, and a restart with the same data directory must start
 * and work. Two ways, each tested through the real CLI: with setpriv on PATH the kernel stops the server
 * when its parent dies; without it (PATH holding only nats-server) the orphan keeps running and the next
 * start stops it by the pid it recorded, after checking it is our nats-server with our config.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { findExecutable, startNatsServer } from '../../src/nats/embedded-server.js';
import {
  type ChildParley,
  FIXTURE_RULES,
  spawnCli,
  TEST_CONFIG_FILE,
  tempDir,
  waitFor,
} from '../helpers/parley.js';

const TOKEN = 'orphan-test-token-0123456789';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

function field(line: string, key: string): unknown {
  return (JSON.parse(line) as Record<string, unknown>)[key];
}

interface Run {
  cli: ChildParley;
  serverPid: number;
  url: string;
}

async function startEmbedded(t: Test, dataDir: string, port: number, path?: string): Promise<Run> {
  const cli = spawnCli(t, ['start'], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: undefined,
    NATS_URL: undefined,
    PARLEY_DATA_DIR: dataDir,
    PARLEY_NATS__EMBEDDED__PORT: String(port),
    PARLEY_PARTITIONS: '4',
    PARLEY_RULES: FIXTURE_RULES,
    PARLEY_RUNTIME__LEASE_TTL_MS: '1000',
    PARLEY_HTTP__PORT: '0',
    PARLEY_LOG__LEVEL: 'info',
    PARLEY_TENANTS: JSON.stringify({ acme: { auth: { tokens: [TOKEN] } } }),
    ...(path ? { PATH: path } : {}),
  });
  const started = await cli.waitForLine(/embedded nats-server started/, 60_000);
  const listening = await cli.waitForLine(/ingest API listening/, 60_000);
  return { cli, serverPid: Number(field(started, 'serverPid')), url: String(field(listening, 'url')) };
}

async function postEvent(url: string, id: string): Promise<{ seq: number; duplicate: boolean }> {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      type: 'message.received',
      conversation: 'orphan-c1',
      occurredAt: new Date().toISOString(),
    }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { results: Array<{ seq: number; duplicate: boolean }> };
  return body.results[0]!;
}

async function killAndRestart(t: Test, path: string | undefined): Promise<void> {
  const dataDir = tempDir(t, 'parley-orphan-');
  const port = await freePort();
  const first = await startEmbedded(t, dataDir, port, path);
  t.ok(alive(first.serverPid), `embedded nats-server ${first.serverPid} running`);
  t.ok(existsSync(join(dataDir, 'nats-server.pid')), 'its pid file is written');
  const before = await postEvent(first.url, 'orphan-e1');

  first.cli.proc.kill('SIGKILL');
  await first.cli.exited;

  const second = await startEmbedded(t, dataDir, port, path);
  t.not(second.serverPid, first.serverPid, 'a new server was started');
  t.notOk(alive(first.serverPid), 'the server of the killed process is gone');
  const dup = await postEvent(second.url, 'orphan-e1');
  t.match(
    dup,
    { seq: before.seq, duplicate: true },
    'same store: the event accepted before the kill is known',
  );
  const next = await postEvent(second.url, 'orphan-e2');
  // After it, not necessarily right after: the first event's outcome (action.failed) may be stored between.
  t.ok(next.seq > before.seq && !next.duplicate, 'and new events are stored after it');
  const ready = await waitFor(
    'readiness after the restart',
    async () => (await fetch(`${second.url}/readyz`)).status === 200,
  );
  t.ok(ready, '/readyz answers 200');

  second.cli.proc.kill('SIGTERM');
  t.equal(await second.cli.exited, 0, 'the restarted process stops cleanly');
  t.notOk(alive(second.serverPid), 'and stops its server');
  t.notOk(existsSync(join(dataDir, 'nats-server.pid')), 'removing its pid file');
}

t.test('embedded-orphan - kill -9 of parley start: the server dies with it, the restart works', async (t) => {
  t.ok(findExecutable('setpriv'), 'setpriv is installed here (util-linux)');
  await killAndRestart(t, undefined);
});

t.test(
  'embedded-orphan - without setpriv the orphan keeps running; the next start stops it by its pid',
  async (t) => {
    const bin = join(tempDir(t, 'parley-orphan-bin-'), 'bin');
    mkdirSync(bin);
    symlinkSync(findExecutable('nats-server')!, join(bin, 'nats-server'));
    await killAndRestart(t, bin);
  },
);

t.test(
  'embedded-orphan - a server whose parent still runs is left alone, with an error naming it',
  async (t) => {
    const dir = tempDir(t, 'parley-orphan-live-');
    const opts = {
      port: -1,
      storeDir: join(dir, 'store'),
      configPath: join(dir, 'nats.conf'),
      partitions: 4,
    };
    const running = await startNatsServer(opts);
    t.teardown(() => running.stop());
    const err = await startNatsServer(opts).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e as Error & { code?: string },
    );
    t.equal(err?.code, 'NATS_SERVER_IN_USE');
    t.match(err?.message, new RegExp(`pid ${running.pid}.*process ${process.pid}`));
    t.match(err?.message, /another `parley start` uses this data directory/);
    t.ok(alive(running.pid), 'the running server is untouched');
  },
);
