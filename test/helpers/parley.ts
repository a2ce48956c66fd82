/**
 * Helpers to run Parley against a test nats-server: a config for a temp data dir, an in-process instance,
 * a child process (for kill -9 and SIGTERM tests), event publishing and state reads through the real client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { headers } from '@nats-io/transport-node';
import type { ConversationState } from '../../actors/conversation/state.js';
import { loadConfig } from '../../src/config/load.js';
import type { ParleyConfig } from '../../src/config/schema.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { eventHeaders, ingestSubject } from '../../src/envelope/event-message.js';
import { type Parley, STATE_BUCKET, start } from '../../src/main.js';
import { connectNats, type NatsHandles } from '../../src/nats/connection.js';
import { createLogger, type Logger } from '../../src/obs/logger.js';
import type { StoredState } from '../../src/runtime/actor-cell.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURE_RULES = join(ROOT, 'test/fixtures/rules');
/** Tests never read the project's ./parley.yaml (the demo config); they start from this empty one. */
export const TEST_CONFIG_FILE = join(ROOT, 'test/fixtures/parley.yaml');

type Teardown = { teardown(fn: () => unknown): void };

export function tempDir(t: Teardown, prefix = 'parley-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config pointing at `natsUrl`, with a temp data dir, the fixture rules and short leases. */
export function testConfig(
  t: Teardown,
  natsUrl: string,
  partitions: number,
  overrides: Record<string, unknown> = {},
): ParleyConfig {
  const runtime = { leaseTtlMs: 3000, passivateAfterMs: 60_000, ...((overrides.runtime as object) ?? {}) };
  return loadConfig({
    file: TEST_CONFIG_FILE,
    env: {},
    cwd: ROOT,
    overrides: {
      dataDir: tempDir(t),
      nats: { url: natsUrl },
      partitions,
      rules: FIXTURE_RULES,
      log: { level: 'info' },
      http: { host: '127.0.0.1', port: 0 }, // the ingest role listens on a free port
      ...overrides,
      runtime,
    },
  }).config;
}

/** A logger whose lines are kept for assertions. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

export async function startParley(t: Teardown, config: ParleyConfig, log?: Logger): Promise<Parley> {
  // A test that configures no channel is not about sending: without the connector stage its actions stay
  // on ACTIONS (with it they would be dead-lettered as channel_not_configured, and their outcome events
  // would reach the conversations the test counts).
  const sends = Object.values(config.tenants).some((tenant) => Object.keys(tenant.channels).length > 0);
  const parley = await start(config, {
    logger: log ?? createLogger({ level: 'silent' }),
    drainMs: 5000,
    ...(sends ? {} : { roles: ['actors', 'ingest', 'scheduler'] as const }),
  });
  t.teardown(() => parley.stop());
  return parley;
}

export async function connect(t: Teardown, url: string): Promise<NatsHandles> {
  const handles = await connectNats({ url, reconnect: false, name: 'parley-test' });
  t.teardown(() => handles.nc.close());
  return handles;
}

export function event(
  tenant: string,
  conversation: string,
  n: number,
  type = 'message.received',
  extra: Partial<EventEnvelope> = {},
): EventEnvelope {
  return {
    schema: 1,
    id: `${conversation}-e${n}`,
    type,
    tenant,
    conversation,
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    attributes: { n },
    ...extra,
  };
}

/** Publishes events in the given order (each awaited for its PubAck, all issued without waiting). */
export async function publishEvents(
  h: NatsHandles,
  events: EventEnvelope[],
  chunk = 2000,
): Promise<Array<{ seq: number; duplicate: boolean }>> {
  const out: Array<{ seq: number; duplicate: boolean }> = [];
  for (let i = 0; i < events.length; i += chunk) {
    const acks = await Promise.all(
      events.slice(i, i + chunk).map((e) => {
        const hdrs = headers();
        for (const [k, v] of Object.entries(eventHeaders(e))) hdrs.set(k, v);
        return h.js.publish(ingestSubject(e), encode(e), { msgID: e.id, headers: hdrs });
      }),
    );
    for (const a of acks) out.push({ seq: a.seq, duplicate: a.duplicate });
  }
  return out;
}

export async function readState(
  h: NatsHandles,
  tenant: string,
  conversation: string,
): Promise<StoredState<ConversationState> | undefined> {
  const kv = await h.kvm.open(STATE_BUCKET);
  const entry = await kv.get(`${tenant}.${conversation}`);
  if (!entry || entry.length === 0) return undefined;
  return decodeMsgpack(entry.value) as StoredState<ConversationState>;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * SIGSTOP a process and wait until it has stopped. The signal is asynchronous: a multithreaded process
 * (nats-server, Go) keeps running on its other CPUs for a moment after kill() returns, long enough to
 * acknowledge a publish, so a test that needs it stopped waits until every thread is in state T.
 */
export async function suspendProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const threadStates = () =>
    readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    });
  await waitFor(
    `process ${pid} stopped`,
    async () => threadStates().every((s) => s === 'T' || s === 't'),
    5000,
    1,
  );
}

/** Messages currently in a stream (optionally only on a subject filter). */
export async function streamCount(h: NatsHandles, stream: string, subject?: string): Promise<number> {
  const info = await h.jsm.streams.info(stream, subject ? { subjects_filter: subject } : undefined);
  if (!subject) return info.state.messages;
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

export interface ChildParley {
  proc: ChildProcess;
  lines: string[];
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** Runs the parley CLI from source (tsx) in a child process, keeping its output lines for assertions. */
export function spawnCli(t: Teardown, args: string[], env: Record<string, string | undefined>): ChildParley {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const onData = (buf: Buffer) => {
    for (const line of buf.toString().split('\n')) if (line) lines.push(line);
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return exited;
  });
  return {
    proc,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 90_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const hit = lines.find((l) => pattern.test(l));
          if (hit) {
            listeners.delete(check);
            clearTimeout(timer);
            res(hit);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          rej(
            new Error(
              `no log line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}

/** The owner id a child process logged when it connected (`connected to NATS`). */
export async function childOwner(child: ChildParley): Promise<string> {
  const line = await child.waitForLine(/"connected to NATS"/);
  return (JSON.parse(line) as { owner: string }).owner;
}

/** Every partition's lease record. */
export async function readLeases(
  h: NatsHandles,
  partitions: number,
): Promise<Array<{ owner: string; epoch: number; released?: boolean } | undefined>> {
  const kv = await h.kvm.open('parley-leases');
  return Promise.all(
    Array.from({ length: partitions }, async (_, p) => {
      const e = await kv.get(`partitions.${p}`);
      return e && e.length > 0
        ? (decodeMsgpack(e.value) as { owner: string; epoch: number; released?: boolean })
        : undefined;
    }),
  );
}

/** Runs `parley start` from source in a child process (for kill -9 and signal tests). */
export function spawnParley(
  t: Teardown,
  config: {
    natsUrl: string;
    dataDir: string;
    partitions: number;
    env?: Record<string, string>;
    /** `--roles`; default every role. */
    roles?: string;
  },
): ChildParley {
  return spawnCli(t, ['start', ...(config.roles ? ['--roles', config.roles] : [])], {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: config.natsUrl,
    PARLEY_DATA_DIR: config.dataDir,
    PARLEY_PARTITIONS: String(config.partitions),
    PARLEY_RULES: FIXTURE_RULES,
    PARLEY_RUNTIME__LEASE_TTL_MS: '3000',
    PARLEY_LOG__LEVEL: 'info',
    PARLEY_HTTP__PORT: '0',
    ...config.env,
  });
}
