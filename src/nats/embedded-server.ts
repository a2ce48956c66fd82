/**
 * Runs a local nats-server as a child process: the embedded server of `parley start` / `parley streams` when no
 * nats.url is configured, and the per-file server of the integration tests.
 *
 * What must stay true: a failed start never leaves a child behind (it is killed before the error is thrown);
 * `stop()` is idempotent and resolves only after the process has exited (SIGTERM, then SIGKILL after 5 s).
 * Readiness is the server's own ports file (written once its listener is up, named after its pid, so a different
 * process holding the port can never pass for it) followed by a successful TCP connect.
 *
 * A parent killed without a chance to stop it (kill -9, OOM) must not leave a server holding the port and the
 * store: on Linux the server is started through `setpriv --pdeathsig TERM` so the kernel stops it when its
 * parent dies, and every start first looks for a server a previous run left behind (the pid file
 * `nats-server.pid` beside the config): one still running our executable with our config file whose parent
 * has gone is stopped by that pid before the new one starts; one whose parent is still alive is another
 * running process using the same data directory, reported and left alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ParleyConfig } from '../config/schema.js';
import { AppError, ConfigError } from '../errors/app-error.js';
import { embeddedAuthorization, loadEmbeddedCredentials } from './embedded-credentials.js';
import type { ServerAuthorization } from './permissions.js';
import { renderServerConfig } from './server-config.js';

export interface NatsServerOptions {
  /** Executable name (looked up on PATH) or path; default "nats-server". */
  binary?: string;
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Client port; -1 picks a free port. */
  port: number;
  /** JetStream store directory; created if missing. */
  storeDir: string;
  /** Where the rendered configuration is written (parent directories are created). */
  configPath: string;
  /** Partition count for the ingest subject mapping. */
  partitions: number;
  /** Server output is appended here; without it the last lines are kept in memory for error messages. */
  logFile?: string;
  /** Raw configuration appended to the rendered file. */
  extraConfig?: string;
  /** How long to wait for the server to accept connections, in ms; default 10000. */
  startTimeoutMs?: number;
  /** Role users and producers (accounts block); without it the server runs without authentication. */
  authorization?: ServerAuthorization;
  /** Extra environment for the server process (passwords the config references as $VARIABLES). */
  env?: Record<string, string>;
  /**
   * Stop the server when this process dies, even by SIGKILL (Linux: `setpriv --pdeathsig TERM` when setpriv
   * is installed; elsewhere only a normal exit stops it). Default true.
   */
  dieWithParent?: boolean;
  /** Where the server's pid and its parent's are recorded; default `nats-server.pid` beside the config. */
  pidFile?: string;
}

export interface RunningNatsServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 20;

/**
 * The embedded server of a Parley config (used when nats.url is unset): data under `<dataDir>/nats`, config at
 * `<dataDir>/nats.conf`, log at `<dataDir>/nats.log`.
 */
export function embeddedServerOptions(config: ParleyConfig): NatsServerOptions {
  const { binary, host, port, storeDir } = config.nats.embedded;
  return {
    binary,
    host,
    port,
    storeDir: storeDir ? resolve(config.dataDir, storeDir) : join(config.dataDir, 'nats'),
    configPath: join(config.dataDir, 'nats.conf'),
    partitions: config.partitions,
    logFile: join(config.dataDir, 'nats.log'),
    ...(config.nats.embedded.auth
      ? {
          authorization: embeddedAuthorization(
            loadEmbeddedCredentials(config.dataDir, Object.keys(config.tenants)),
          ),
        }
      : {}),
  };
}

/** Full path of an executable: `binary` itself when it contains a slash, else the first match on PATH. */
export function findExecutable(binary: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const candidates = binary.includes('/')
    ? [resolve(binary)]
    : searchPath
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, binary));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

export function missingBinaryError(binary: string): ConfigError {
  return new ConfigError(`${binary} was not found${binary.includes('/') ? '' : ' on PATH'}`, [
    {
      path: 'nats.embedded.binary',
      message:
        'install it (Debian/Ubuntu: sudo apt-get install nats-server), or set nats.url (PARLEY_NATS__URL, ' +
        '--nats-url) to an existing nats-server 2.9+',
    },
  ]);
}

/** Keeps the server's output for error messages: a file (read back from where this run began) or memory. */
class ServerLog {
  private readonly fd: number | undefined;
  private readonly startOffset: number;
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly file: string | undefined) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.fd = openSync(file, 'a');
      this.startOffset = fstatSync(this.fd).size;
    } else {
      this.startOffset = 0;
    }
  }

  /** stdio for spawn: the file, or pipes this object drains. */
  stdio(): ['ignore', number | 'pipe', number | 'pipe'] {
    return this.fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', this.fd, this.fd];
  }

  attach(child: ChildProcess): void {
    const keep = (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      if (this.lines.length > LOG_TAIL_LINES) this.lines.splice(0, this.lines.length - LOG_TAIL_LINES);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  tail(): string[] {
    if (this.fd === undefined || !this.file) {
      return [...this.lines, ...(this.partial ? [this.partial] : [])].slice(-LOG_TAIL_LINES);
    }
    try {
      const size = fstatSync(this.fd).size;
      const from = Math.max(this.startOffset, size - 16_384);
      const buf = Buffer.alloc(size - from);
      const fd = openSync(this.file, 'r');
      try {
        readSync(fd, buf, 0, buf.length, from);
      } finally {
        closeSync(fd);
      }
      return buf.toString('utf8').split('\n').filter(Boolean).slice(-LOG_TAIL_LINES);
    } catch {
      return [];
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

function readPortsFile(path: string): number | undefined {
  try {
    const ports = JSON.parse(readFileSync(path, 'utf8')) as { nats?: string[] };
    const first = ports.nats?.[0];
    if (!first) return undefined;
    const port = Number(new URL(first).port);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined; // not written yet, or written halfway
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function clientHost(host: string): string {
  if (host === '0.0.0.0' || host === '' || host === '::' || host === '[::]') return '127.0.0.1';
  return host;
}

function urlFor(host: string, port: number): string {
  return `nats://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** What a running server records about itself in its pid file. */
interface PidRecord {
  pid: number;
  /** The process that started it. */
  parent: number;
  config: string;
}

export function defaultPidFile(configPath: string): string {
  return join(dirname(resolve(configPath)), 'nats-server.pid');
}

/** A live process as /proc shows it (Linux); undefined when it is gone, a zombie, or /proc is unavailable. */
function processInfo(pid: number): { argv: string[]; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' || state === 'X') return undefined;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { argv, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

function isOurServer(argv: readonly string[], executable: string, configPath: string): boolean {
  const c = argv.indexOf('-c');
  return (
    argv.length > 0 &&
    basename(argv[0]!) === basename(executable) &&
    c > 0 &&
    resolve(argv[c + 1] ?? '') === configPath
  );
}

function readPidRecord(file: string): PidRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<PidRecord>;
    return Number.isInteger(r.pid) && Number.isInteger(r.parent) && typeof r.config === 'string'
      ? (r as PidRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Waits (polling /proc: the process is not our child, so there is no exit event) until `pid` is gone. */
async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processInfo(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/**
 * Stops a server left running by an earlier start with the same config (its parent was killed): only a
 * process that is our executable with our config file, and only when the parent that started it is gone.
 * Throws when that parent still runs (another live process uses this data directory).
 */
async function reclaimStaleServer(pidFile: string, executable: string, configPath: string): Promise<void> {
  const record = readPidRecord(pidFile);
  if (!record || resolve(record.config) !== configPath) return;
  const info = processInfo(record.pid);
  if (info && isOurServer(info.argv, executable, configPath)) {
    if (info.ppid === record.parent && processInfo(record.parent)) {
      throw new AppError(
        `a nats-server (pid ${record.pid}) started by process ${record.parent} already runs with ${configPath}\n` +
          'hint: another `parley start` uses this data directory: stop it, point nats.url at its server, ' +
          'or use another dataDir',
        { code: 'NATS_SERVER_IN_USE' },
      );
    }
    // Orphaned (its parent died without stopping it): stop it by that pid, gracefully first. It may be
    // exiting already (the kernel's parent-death signal), hence no error when it is gone meanwhile.
    signal(record.pid, 'SIGTERM');
    if (!(await waitGone(record.pid, STOP_GRACE_MS))) {
      signal(record.pid, 'SIGKILL');
      if (!(await waitGone(record.pid, STOP_GRACE_MS)))
        throw new AppError(
          `could not stop the nats-server (pid ${record.pid}) left running with ${configPath}`,
          {
            code: 'NATS_SERVER_IN_USE',
          },
        );
    }
  }
  rmSync(join(dirname(configPath), `${basename(executable)}_${record.pid}.ports`), { force: true });
  rmSync(pidFile, { force: true });
}

/** Writes the configuration, starts nats-server and resolves once it accepts client connections. */
export async function startNatsServer(opts: NatsServerOptions): Promise<RunningNatsServer> {
  const binary = opts.binary ?? 'nats-server';
  const executable = findExecutable(binary);
  if (!executable) throw missingBinaryError(binary);

  const host = opts.host ?? '127.0.0.1';
  const configPath = resolve(opts.configPath);
  const portsFileDir = dirname(configPath);
  const storeDir = isAbsolute(opts.storeDir) ? opts.storeDir : resolve(opts.storeDir);
  mkdirSync(portsFileDir, { recursive: true });
  mkdirSync(storeDir, { recursive: true });
  const pidFile = resolve(opts.pidFile ?? defaultPidFile(configPath));
  await reclaimStaleServer(pidFile, executable, configPath);
  writeFileSync(
    configPath,
    renderServerConfig({
      host,
      port: opts.port,
      storeDir,
      partitions: opts.partitions,
      portsFileDir,
      extraConfig: opts.extraConfig,
      authorization: opts.authorization,
    }),
    { mode: 0o600 }, // may hold the generated passwords
  );
  chmodSync(configPath, 0o600);

  const log = new ServerLog(opts.logFile);
  // setpriv execs the server in place (same pid): the kernel sends it SIGTERM when this process dies.
  const setpriv = opts.dieWithParent !== false ? findExecutable('setpriv') : undefined;
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'TERM', '--', executable, '-c', configPath]]
    : [executable, ['-c', configPath]];
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: log.stdio(),
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
  } catch (err) {
    log.close();
    throw new AppError(`could not start ${executable}`, { code: 'NATS_SERVER_START_FAILED', cause: err });
  }
  log.attach(child);
  if (child.pid !== undefined) {
    const record: PidRecord = { pid: child.pid, parent: process.pid, config: configPath };
    writeFileSync(pidFile, `${JSON.stringify(record)}\n`);
  }

  let spawnError: Error | undefined;
  let exitStatus: string | undefined;
  const exited = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal ? `signal ${signal}` : `code ${code}`;
      done();
    });
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        exitStatus = 'spawn failure';
        done();
      }
    });
  });
  // A parent that exits without calling stop() must not leave the server running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const portsFile = join(portsFileDir, `${basename(executable)}_${child.pid}.ports`);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitStatus === undefined) {
        child.kill('SIGTERM');
        // Unref'd: the child's own handle keeps the process alive while we wait, and a fast exit must not
        // leave a 5 s timer holding the event loop.
        const killed = await Promise.race([
          exited.then(() => false),
          sleep(STOP_GRACE_MS, true, { ref: false }),
        ]);
        if (killed) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      process.removeListener('exit', killOnExit);
      log.close();
      rmSync(portsFile, { force: true });
      if (readPidRecord(pidFile)?.pid === child.pid) rmSync(pidFile, { force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  const connectHost = clientHost(host);
  let port: number | undefined;
  try {
    for (;;) {
      if (exitStatus !== undefined) {
        throw startFailure(
          `${binary} exited (${exitStatus}) before accepting connections`,
          opts,
          host,
          log,
          spawnError,
        );
      }
      if (Date.now() > deadline) {
        throw startFailure(
          `${binary} did not accept connections within ${opts.startTimeoutMs ?? 10_000} ms`,
          opts,
          host,
          log,
        );
      }
      port ??= readPortsFile(portsFile);
      if (port !== undefined && (await canConnect(connectHost, port))) break;
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: urlFor(connectHost, port), port, pid: child.pid!, stop };
}

function startFailure(
  headline: string,
  opts: NatsServerOptions,
  host: string,
  log: ServerLog,
  cause?: Error,
): AppError {
  const tail = log.tail();
  const hints: string[] = [];
  // The adapter is the one place allowed to read the server's own words.
  if (tail.some((line) => line.includes('address already in use'))) {
    hints.push(
      `another process already listens on ${host}:${opts.port} (a running \`parley start\`?): point ` +
        'nats.url at it, or choose another nats.embedded.port (-1 picks a free one)',
    );
  }
  const where = opts.logFile ? `server log (${opts.logFile})` : 'server output';
  const message = [
    headline,
    ...hints.map((h) => `hint: ${h}`),
    `config: ${resolve(opts.configPath)}`,
    tail.length > 0 ? `last lines of the ${where}:\n${tail.map((l) => `  ${l}`).join('\n')}` : `no ${where}`,
  ].join('\n');
  return new AppError(message, { code: 'NATS_SERVER_START_FAILED', cause });
}
