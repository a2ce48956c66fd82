/**
 * The fault harness: real nats-server processes (one node or a three-node cluster), one or more real
 * `parley start` processes, an independent Standard-Webhooks receiver, load drivers that record what was
 * acknowledged, fault injectors acting by PID, and the history handed to the checker.
 *
 * A scenario builds a Harness, drives load, injects its faults, calls `settle()` (waits on the receiver and
 * the state bucket, bounded) and returns `result()`. Everything started here is stopped in `teardown()`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import {
  type CheckOptions,
  type CheckReport,
  type ConversationCounters,
  check,
  type History,
} from './checker.js';
import { Recorder } from './drivers.js';
import { type NatsDeployment, startNats } from './nats-cluster.js';
import { ParleyProcess, TENANT, WEBHOOK_SECRET, writeParleyConfig } from './parley-process.js';
import { type FaultMode, WebhookReceiver } from './receiver.js';
import { until } from './wait.js';

export { TENANT, TENANT_TOKEN } from './parley-process.js';

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export interface HarnessOptions {
  /** nats-server nodes: 1, or a 3-node cluster. */
  natsNodes?: 1 | 3;
  partitions?: number;
  /** Parley processes (each runs ingest, actors, connectors unless `roles`). */
  processes?: number;
  roles?: string;
  /** Extra config keys for every process (runtime, connectors, http ...). */
  config?: Record<string, unknown>;
  fault?: FaultMode;
  /** EVENTS duplicate_window in ms (dedupe past the stream's window). */
  duplicateWindowMs?: number;
  /** Keep the temp dir (logs) after teardown; default: kept only when PARLEY_FAULTS_KEEP is set. */
  keep?: boolean;
}

export interface ScenarioResult {
  report: CheckReport;
  /** Assertions outside the history (bad input answers, exit codes...). */
  failures: string[];
  events: number;
  faults: number;
  notes: string[];
  /** Where the processes' logs are (kept on failure). */
  logs?: string;
}

export interface Scenario {
  name: string;
  description: string;
  /** `fast`: in the CI subset. `cluster`, `crash`... for filtering. */
  tags: string[];
  /** Hard bound on one run, enforced by the runner. */
  timeoutMs: number;
  run(): Promise<ScenarioResult>;
}

export class Harness {
  readonly dir: string;
  readonly receiver: WebhookReceiver;
  readonly recorder = new Recorder();
  readonly processes: ParleyProcess[] = [];
  nats!: NatsDeployment;
  #nc: NatsConnection | undefined;
  faults = 0;
  readonly notes: string[] = [];
  #keep: boolean;

  constructor(readonly options: HarnessOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'parley-faults-'));
    this.receiver = new WebhookReceiver({ secret: WEBHOOK_SECRET, fault: options.fault });
    this.#keep = options.keep ?? Boolean(process.env.PARLEY_FAULTS_KEEP);
  }

  get partitions(): number {
    return this.options.partitions ?? 8;
  }

  /** Starts the receiver, the NATS deployment and the Parley processes (in turn: the first applies the streams). */
  async start(): Promise<void> {
    await this.receiver.start();
    this.nats = await startNats({ count: this.options.natsNodes ?? 1, partitions: this.partitions });
    for (let i = 0; i < (this.options.processes ?? 1); i++) {
      const p = this.addProcess();
      await p.start();
    }
  }

  /** A new Parley process with its own config file (not started). */
  addProcess(extra: Record<string, unknown> = {}, roles?: string): ParleyProcess {
    const name = `parley-${this.processes.length + 1}`;
    const dir = join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const configFile = writeParleyConfig({
      dir,
      natsUrl: this.nats.urls,
      partitions: this.partitions,
      webhookUrl: this.receiver.url,
      replicas: this.options.natsNodes === 3 ? 3 : 1,
      duplicateWindowMs: this.options.duplicateWindowMs,
      extra: { ...(this.options.config ?? {}), ...extra },
    });
    const p = new ParleyProcess({
      name,
      configFile,
      roles: roles ?? this.options.roles,
      logFile: join(this.dir, `${name}.log`),
    });
    this.processes.push(p);
    return p;
  }

  /** Rewrites a process's config (e.g. without a crash point) before a restart. */
  reconfigure(p: ParleyProcess, extra: Record<string, unknown>): void {
    writeParleyConfig({
      dir: join(this.dir, p.options.name),
      natsUrl: this.nats.urls,
      partitions: this.partitions,
      webhookUrl: this.receiver.url,
      replicas: this.options.natsNodes === 3 ? 3 : 1,
      duplicateWindowMs: this.options.duplicateWindowMs,
      extra: { ...(this.options.config ?? {}), ...extra },
    });
  }

  /** The API of the first running process (drivers ask again on each request). */
  apiUrl(): string {
    const p = this.processes.find((x) => x.running && !x.paused && x.apiUrl) ?? this.processes[0];
    return p?.apiUrl ?? '';
  }

  /** A client connection of the harness's own (KV reads, direct publishes); reconnects across restarts. */
  async nc(): Promise<NatsConnection> {
    if (!this.#nc || this.#nc.isClosed()) {
      this.#nc = await connect({
        servers: this.nats.urls.split(','),
        name: 'parley-faults',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
    }
    return this.#nc;
  }

  /** Final counters of every conversation of the tenant, from the parley-state bucket. */
  async readStates(): Promise<ConversationCounters[]> {
    const kv = await new Kvm(await this.nc()).open('parley-state');
    const keys: string[] = [];
    for await (const k of await kv.keys(`${TENANT}.>`)) keys.push(k);
    const out: ConversationCounters[] = [];
    for (const k of keys) {
      const entry = await kv.get(k);
      if (!entry || entry.length === 0) continue;
      const stored = packr.unpack(entry.value) as {
        state?: { conversation?: string; counts?: Record<string, number> };
      };
      out.push({
        tenant: TENANT,
        conversation: stored.state?.conversation ?? k.slice(TENANT.length + 1),
        counts: stored.state?.counts ?? {},
      });
    }
    return out;
  }

  /** Messages in a stream (0 when it does not exist). */
  async streamMessages(stream: string): Promise<number> {
    const jsm = await jetstreamManager(await this.nc());
    try {
      return (await jsm.streams.info(stream)).state.messages;
    } catch {
      return 0;
    }
  }

  /** Consumers of EVENTS and ACTIONS with work left (diagnostics for a run that lost sends). */
  async consumerLag(): Promise<string[]> {
    const jsm = await jetstreamManager(await this.nc());
    const out: string[] = [];
    for (const stream of ['EVENTS', 'ACTIONS']) {
      for await (const c of jsm.consumers.list(stream)) {
        if (c.num_pending > 0 || c.num_ack_pending > 0 || c.num_redelivered > 0) {
          out.push(
            `${stream}/${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting pulls ${c.num_waiting}, ack floor ${c.ack_floor.stream_seq}, delivered ${c.delivered.stream_seq}, leader ${c.cluster?.leader ?? '-'}, created ${c.created}`,
          );
        }
      }
    }
    try {
      const kv = await new Kvm(await this.nc()).open('parley-leases');
      for await (const k of await kv.keys()) {
        const e = await kv.get(k);
        if (e && e.length > 0) out.push(`lease ${k}: ${JSON.stringify(packr.unpack(e.value))}`);
      }
    } catch (err) {
      out.push(`leases: ${String(err)}`);
    }
    return out;
  }

  /**
   * Waits until the receiver accepted a delivery for every acknowledged event (exempt conversations aside) and
   * the state bucket counts every acknowledged event, or `timeoutMs` passes; either way the caller checks next.
   */
  async settle(timeoutMs = 60_000, exempt: string[] = []): Promise<boolean> {
    const skip = new Set(exempt);
    const expected = () => {
      const ids = new Set<string>();
      for (const e of this.recorder.acked) {
        if (
          (e.type ?? 'message.received') === 'message.received' &&
          !skip.has(`${e.tenant}.${e.conversation}`)
        )
          ids.add(`${e.conversation}|${e.id}`);
      }
      return ids;
    };
    const want = expected();
    const delivered = () => {
      const got = new Set<string>();
      for (const d of this.receiver.deliveries()) if (d.accepted) got.add(`${d.conversation}|${d.eventId}`);
      return got;
    };
    try {
      await this.receiver.waitFor(
        `${want.size} deliveries`,
        () => {
          const got = delivered();
          for (const id of want) if (!got.has(id)) return false;
          return true;
        },
        timeoutMs,
      );
      const perConversation = new Map<string, Set<string>>();
      for (const e of this.recorder.acked) {
        const s = perConversation.get(e.conversation) ?? new Set<string>();
        s.add(e.id);
        perConversation.set(e.conversation, s);
      }
      await until(
        'state counters equal to the acknowledged events',
        async () => {
          const states = new Map((await this.readStates()).map((s) => [s.conversation, s]));
          for (const [conv, ids] of perConversation) {
            if ((states.get(conv)?.counts['message.received'] ?? 0) < ids.size) return false;
          }
          return true;
        },
        Math.max(5_000, timeoutMs / 4),
        250,
      );
      return true;
    } catch (err) {
      this.notes.push(`settle: ${(err as Error).message}`);
      return false;
    }
  }

  async history(exempt: string[] = []): Promise<History> {
    let states: ConversationCounters[] | undefined;
    try {
      states = await this.readStates();
    } catch (err) {
      this.notes.push(`state read failed: ${String(err)}`);
    }
    return {
      acked: this.recorder.acked,
      indeterminate: this.recorder.indeterminate,
      deliveries: this.receiver.deliveries(),
      exempt,
      states,
    };
  }

  async result(
    options: CheckOptions & { exempt?: string[]; failures?: string[] } = {},
  ): Promise<ScenarioResult> {
    const report = check(await this.history(options.exempt), options);
    const times = this.receiver
      .requests()
      .filter((q) => q.outcome === 'accepted')
      .map((q) => q.receivedAt);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    if (times.length > 1) this.notes.push(`longest pause between deliveries: ${gap} ms`);
    const dlq = await this.streamMessages('DLQ').catch(() => 0);
    if (dlq > 0) this.notes.push(`DLQ holds ${dlq} message(s)`);
    if (report.summary.lost > 0)
      this.notes.push(...(await this.consumerLag().catch((e) => [`consumer info: ${e}`])));
    const failures = [...(options.failures ?? [])];
    return {
      report,
      failures,
      events: report.summary.events,
      faults: this.faults + this.receiver.faultsInjected,
      notes: [...this.notes, ...report.notes.slice(0, 5).map((n) => `${n.kind}: ${n.message}`)],
      logs: this.dir,
    };
  }

  async teardown(failed: boolean): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop('SIGKILL')));
    await this.#nc?.close().catch(() => {});
    await this.nats?.stop().catch(() => {});
    await this.receiver.stop();
    if (!this.#keep && !failed) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `body` with a started harness, tearing it down whatever happens (logs kept when the run failed). */
export async function withHarness(
  options: HarnessOptions,
  body: (h: Harness) => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  const h = new Harness(options);
  let failed = true;
  try {
    await h.start();
    const result = await body(h);
    failed = !result.report.ok || result.failures.length > 0;
    return result;
  } finally {
    await h.teardown(failed);
  }
}

/** A result for scenarios judged by assertions only (bad input): an empty history. */
export function assertionsOnly(failures: string[], events: number, notes: string[] = []): ScenarioResult {
  return { report: check({ acked: [], deliveries: [] }), failures, events, faults: 0, notes };
}
