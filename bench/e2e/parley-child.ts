/**
 * The Parley process of the e2e bench: one `parley start` (every role) in a child process, launched the way the
 * bench itself was launched (the single-file build, or tsx on the sources), with its config in a temporary
 * file, ready once its /readyz answers 200. Keeps the tail of its output for error messages and its warnings,
 * and stops it by its own PID only (SIGTERM, then SIGKILL after a grace period).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';

export interface ParleyChild {
  readonly pid: number;
  /** The ingest API, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  /** Last lines the process wrote (stdout and stderr), for error messages. */
  tail(): string;
  /** Lines at level warn or above seen so far (pino level >= 40), capped. */
  warnings(): string[];
  /** Stops it (SIGTERM, SIGKILL after `graceMs`); resolves with its exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

export interface SpawnParleyOptions {
  configFile: string;
  /** Where its ingest API will listen (the config's http host and port). */
  url: string;
  cwd: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  startTimeoutMs?: number;
}

const TAIL_CHARS = 8000;

function ready(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** A free TCP port on the loopback interface (closed again at once; the child binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const MAX_WARNINGS = 50;

/** The project root: the nearest directory above this file with streams/EVENTS.json (sources or dist/). */
export function projectRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'streams', 'EVENTS.json')) && existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

/** node flags and entry script that start the Parley CLI the way this process was started. */
function cliCommand(): { flags: string[]; entry: string } {
  const flags = process.execArgv.filter((a) => !a.startsWith('--cpu-prof') && !a.startsWith('--inspect'));
  return { flags, entry: process.argv[1]! };
}

export async function spawnParley(o: SpawnParleyOptions): Promise<ParleyChild> {
  const { flags, entry } = cliCommand();
  const proc: ChildProcess = spawn(
    process.execPath,
    [...flags, ...(o.nodeFlags ?? []), entry, 'start', '--config', o.configFile],
    {
      cwd: o.cwd,
      // Only what the child needs from this environment; no PARLEY_* leaks in from the caller's shell.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_'))),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (proc.pid === undefined) throw new Error('bench: could not start the Parley process');
  const pid = proc.pid;
  let out = '';
  let pending = '';
  const warnings: string[] = [];
  const onData = (b: Buffer) => {
    const text = b.toString();
    out = (out + text).slice(-TAIL_CHARS);
    pending += text;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const level = /"level":(\d+)/.exec(line);
      if (level && Number(level[1]) >= 40 && warnings.length < MAX_WARNINGS)
        warnings.push(line.slice(0, 400));
      nl = pending.indexOf('\n');
    }
  };
  // Always drained: a full pipe would block the child's logger.
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );

  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  let exitedHow: string | undefined;
  void exited.then((how) => {
    exitedHow = how;
  });
  for (;;) {
    if (exitedHow !== undefined)
      throw new Error(`bench: Parley exited during start-up (${exitedHow}):\n${out}`);
    if (await ready(`${o.url}/readyz`)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`bench: Parley was not ready within ${o.startTimeoutMs ?? 60_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const url = o.url;

  let stopping: Promise<string> | undefined;
  return {
    pid,
    url,
    tail: () => out,
    warnings: () => [...warnings],
    stop(graceMs = 30_000) {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return exited;
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        const how = await exited;
        clearTimeout(timer);
        return how;
      })();
      return stopping;
    },
  };
}
