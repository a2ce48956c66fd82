/**
 * A real PostgreSQL for integration tests and benchmarks, one per call: Debian's server binaries
 * (/usr/lib/postgresql/<v>/bin, or PG_BIN), a temporary cluster made with initdb, listening on a free
 * loopback port, stopped by its PID and removed in teardown. As root, the server runs as the `postgres`
 * user (setpriv; Postgres refuses to run as root). Missing binaries are a loud failure, never a skip.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  dsn: string;
  port: number;
  /** PID of the running postmaster. */
  readonly pid: number;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Stops the server (immediate: like a crash, recovery on the next start; fast: a clean shutdown). */
  stopServer(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Starts it again on the same port and data directory. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      "no PostgreSQL server binaries for the tests: install Debian's postgresql package (apt-get install -y postgresql, " +
        'which scripts/bootstrap.sh does as root) or set PG_BIN to the directory holding initdb and postgres',
    );
  return join(root, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** As root: run as the postgres user. */
function asServerUser(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'], uid, gid };
}

function run(cmd: string[], prefix: string[]): void {
  const all = [...prefix, ...cmd];
  execFileSync(all[0]!, all.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts a server without tap (benchmarks); the caller must call stop(). */
export async function startStandalonePostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
  const data = join(dir, 'data');
  const user = asServerUser();
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  run(
    [join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'parley', '-E', 'UTF8', '--no-sync'],
    user.prefix,
  );
  const port = await freePort();
  const dsn = `postgres://parley@127.0.0.1:${port}/postgres`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let log = '';

  const startServer = async () => {
    const cmd = [
      ...user.prefix,
      join(bin, 'postgres'),
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=50',
    ];
    // setpriv execs: the child's PID is the postmaster's.
    const p = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    exited = new Promise((resolve) => p.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (buf: Buffer) => {
        log += buf.toString();
        if (log.includes('database system is ready to accept connections')) resolve();
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      p.once('exit', (code) =>
        reject(new Error(`postgres exited (${code}) before it was ready:\n${log.slice(-2000)}`)),
      );
    });
    log = '';
    await ready;
  };

  const stopServer = async (mode: 'immediate' | 'fast' = 'fast') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    // SIGQUIT: immediate shutdown (no checkpoint, recovery at the next start); SIGINT: fast shutdown.
    p.kill(mode === 'immediate' ? 'SIGQUIT' : 'SIGINT');
    await exited;
  };

  await startServer();
  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => {
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    dsn,
    port,
    get pid() {
      return proc?.pid ?? 0;
    },
    query,
    stopServer,
    startServer,
    stop: async () => {
      await stopServer('fast');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a server for one test file; it is stopped (and its directory removed) in `t.teardown`. */
export async function startTestPostgres(t: { teardown(fn: () => unknown): void }): Promise<TestPostgres> {
  const server = await startStandalonePostgres();
  t.teardown(() => server.stop());
  return server;
}
