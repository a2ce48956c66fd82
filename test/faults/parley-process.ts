/**
 * `parley start` as a real child process for the fault harness, configured through a config file written here
 * (nats.url, one tenant with a bearer token, a webhook channel pointing at the harness's receiver, the echo
 * rule in a temporary rules directory). Only the public interfaces are used: the CLI, its config file, its log
 * lines (for the API's URL), /readyz.
 *
 * The process runs from source through tsx (what the tests do), from PARLEY_FAULTS_ROOT when set (a snapshot
 * of another tree), else this repository. PARLEY_FAULTS_BIN=dist runs `node bin/parley.js` (the build).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deadline, until } from './wait.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const PARLEY_ROOT = process.env.PARLEY_FAULTS_ROOT
  ? resolve(process.env.PARLEY_FAULTS_ROOT)
  : REPO_ROOT;

export const TENANT = 'acme';
export const TENANT_TOKEN = 'faults-token-acme';
/** Standard Webhooks secret: whsec_ + base64 of 24 bytes. */
export const WEBHOOK_SECRET = `whsec_${Buffer.from('parley-fault-harness-key!').toString('base64')}`;

export const ECHO_RULE = `# The minimal rule: one webhook per received message.
id: echo
on: message.received
do:
  - channel: webhook
    template: ack
`;

export interface ParleyConfigOptions {
  dir: string;
  natsUrl: string;
  partitions: number;
  webhookUrl: string;
  /** Stream replicas (3 on a cluster); buckets stay at one replica (CAS on 2.9.x). */
  replicas?: number;
  /** Extra keys merged into the config (runtime, connectors, http...). */
  extra?: Record<string, unknown>;
  /** EVENTS duplicate_window in ms (default: the definition's 10 minutes). */
  duplicateWindowMs?: number;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Writes rules/, streams/ (replicated when asked) and parley.yaml (JSON is YAML) under `dir`; returns the file. */
export function writeParleyConfig(o: ParleyConfigOptions): string {
  const rules = join(o.dir, 'rules');
  mkdirSync(rules, { recursive: true });
  writeFileSync(join(rules, 'echo.yaml'), ECHO_RULE);
  const streams = join(o.dir, 'streams');
  cpSync(join(PARLEY_ROOT, 'streams'), streams, { recursive: true });
  for (const f of readdirSync(streams).filter((f) => f.endsWith('.json') && f !== 'buckets.json')) {
    const def = JSON.parse(readFileSync(join(streams, f), 'utf8')) as Record<string, unknown>;
    if ((o.replicas ?? 1) > 1) def.num_replicas = o.replicas;
    if (o.duplicateWindowMs && def.name === 'EVENTS') def.duplicate_window = o.duplicateWindowMs * 1_000_000;
    writeFileSync(join(streams, f), JSON.stringify(def, null, 2));
  }
  const config = merge(
    {
      dataDir: join(o.dir, 'data'),
      nats: { url: o.natsUrl },
      http: { host: '127.0.0.1', port: 0 },
      partitions: o.partitions,
      rules,
      streams,
      log: { level: 'info' },
      runtime: { leaseTtlMs: 3000 },
      connectors: { retryInitialMs: 50, retryMaxMs: 1000 },
      tenants: {
        [TENANT]: {
          auth: { tokens: [TENANT_TOKEN] },
          channels: { webhook: { url: o.webhookUrl, secret: WEBHOOK_SECRET } },
        },
      },
    },
    o.extra ?? {},
  );
  const file = join(o.dir, 'parley.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** This process's environment without PARLEY_* (Parley reads those as config overrides; the file rules). */
export function childEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
}

export interface ParleyProcessOptions {
  name: string;
  configFile: string;
  roles?: string;
  /** Extra CLI flags (e.g. --partitions 0-7). */
  args?: string[];
  env?: Record<string, string>;
  logFile: string;
}

export class ParleyProcess {
  proc: ChildProcess | undefined;
  /** The ingest API (http://127.0.0.1:port) once started. */
  apiUrl = '';
  readonly lines: string[] = [];
  starts = 0;
  #exited: Promise<void> = Promise.resolve();
  #listeners = new Set<() => void>();

  constructor(readonly options: ParleyProcessOptions) {}

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Spawns the process and waits until its API listens and /readyz answers 200. */
  async start(timeoutMs = 60_000): Promise<void> {
    const o = this.options;
    const cli =
      process.env.PARLEY_FAULTS_BIN === 'dist'
        ? [join(PARLEY_ROOT, 'bin/parley.js')]
        : ['--import', 'tsx', join(PARLEY_ROOT, 'src/cli/main.ts')];
    const args = [
      ...cli,
      'start',
      '--config',
      o.configFile,
      '--roles',
      o.roles ?? 'ingest,actors,connectors',
    ];
    const proc = spawn(process.execPath, [...args, ...(o.args ?? [])], {
      cwd: PARLEY_ROOT,
      env: { ...childEnv(), ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.starts++;
    this.apiUrl = '';
    appendFileSync(o.logFile, `--- start ${this.starts} pid ${proc.pid} ${new Date().toISOString()}\n`);
    const onData = (buf: Buffer) => {
      const text = buf.toString();
      appendFileSync(o.logFile, text);
      for (const line of text.split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        if (this.lines.length > 2000) this.lines.splice(0, 1000);
        if (!this.apiUrl && line.includes('ingest API listening')) {
          const url = /"url":"([^"]+)"/.exec(line)?.[1];
          if (url) this.apiUrl = url;
        }
      }
      for (const l of this.#listeners) l();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    this.#exited = new Promise((res) => proc.once('exit', () => res()));
    const died = this.#exited.then(() => {
      throw new Error(`${o.name} exited during start (${proc.exitCode ?? proc.signalCode}):\n${this.tail()}`);
    });
    died.catch(() => {});
    const ready = (async () => {
      await until(`${o.name}: ingest API listening`, () => this.apiUrl || undefined, timeoutMs, 50);
      await until(
        `${o.name}: /readyz 200`,
        async () => (await fetch(`${this.apiUrl}/readyz`)).status === 200,
        timeoutMs,
        100,
      );
    })();
    await Promise.race([ready, died]);
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Log lines matching `pattern` so far. */
  grep(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l));
  }

  /** Stopped with SIGSTOP (drivers avoid its API meanwhile). */
  paused = false;

  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    process.kill(this.pid, sig);
    if (sig === 'SIGSTOP') this.paused = true;
    if (sig === 'SIGCONT') this.paused = false;
  }

  /** Sends `sig` (SIGKILL by default; SIGTERM drains) and waits for the exit. */
  async stop(sig: NodeJS.Signals = 'SIGKILL', timeoutMs = 20_000): Promise<void> {
    if (!this.running) return;
    const pid = this.pid;
    if (sig !== 'SIGKILL') process.kill(pid, 'SIGCONT');
    process.kill(pid, sig);
    this.paused = false;
    await Promise.race([this.#exited, deadline(timeoutMs, `${this.options.name} to exit`)]).catch(
      async () => {
        if (this.running) process.kill(pid, 'SIGKILL');
        await this.#exited;
      },
    );
  }

  /** Resolves once the process has exited on its own (e.g. a crashAt point), or rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<void> {
    await Promise.race([this.#exited, deadline(timeoutMs, `${this.options.name} to exit`)]);
  }
}

/** Runs a short parley CLI command (e.g. `rules push`) to completion: exit code and output, bounded in time. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const cli =
    process.env.PARLEY_FAULTS_BIN === 'dist'
      ? [join(PARLEY_ROOT, 'bin/parley.js')]
      : ['--import', 'tsx', join(PARLEY_ROOT, 'src/cli/main.ts')];
  return new Promise((res) => {
    const proc = spawn(process.execPath, [...cli, ...args], {
      cwd: PARLEY_ROOT,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    proc.stderr!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
}
