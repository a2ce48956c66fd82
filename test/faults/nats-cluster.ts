/**
 * nats-server as real processes for the fault harness: one node, or a three-node JetStream cluster on loopback
 * ports, each with a configuration rendered here (JetStream on, the ingest partition mapping of nats.conf, no
 * authentication: loopback only). Faults act on the processes by PID: kill -9, SIGTERM, SIGSTOP / SIGCONT,
 * restart on the same port and store.
 *
 * What must stay true: every server started here is killed in `stop()`; a restarted node keeps its port and
 * store, so clients reconnect to the same URL and JetStream recovers its data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { deadline, until } from './wait.js';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export interface NatsNodeSpec {
  name: string;
  port: number;
  clusterPort?: number;
  routes?: number[];
}

export function renderNodeConfig(spec: NatsNodeSpec, storeDir: string, partitions: number): string {
  const lines = [
    `server_name: "${spec.name}"`,
    `listen: "127.0.0.1:${spec.port}"`,
    'max_payload: 1MB',
    'jetstream {',
    `  store_dir: "${storeDir}"`,
    '  max_memory_store: 256MB',
    '  max_file_store: 2GB',
    '}',
    'mappings = {',
    `  "ingest.*.*.>": "evt.{{partition(${partitions},1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}.>"`,
    '}',
  ];
  if (spec.clusterPort !== undefined) {
    lines.push(
      'cluster {',
      '  name: "parley-faults"',
      `  listen: "127.0.0.1:${spec.clusterPort}"`,
      '  routes: [',
      ...(spec.routes ?? []).map((p) => `    "nats-route://127.0.0.1:${p}"`),
      '  ]',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

export class NatsNode {
  proc: ChildProcess | undefined;
  readonly url: string;
  readonly #configPath: string;
  readonly #logPath: string;
  restarts = 0;

  constructor(
    readonly spec: NatsNodeSpec,
    readonly dir: string,
    partitions: number,
  ) {
    this.url = `nats://127.0.0.1:${spec.port}`;
    mkdirSync(join(dir, 'store'), { recursive: true });
    this.#configPath = join(dir, 'nats.conf');
    this.#logPath = join(dir, 'nats.log');
    writeFileSync(this.#configPath, renderNodeConfig(spec, join(dir, 'store'), partitions));
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the process and waits until it accepts client connections. */
  async start(timeoutMs = 15_000): Promise<void> {
    const log = openSync(this.#logPath, 'a');
    const proc = spawn('nats-server', ['-c', this.#configPath], { stdio: ['ignore', log, log] });
    this.proc = proc;
    const exited = new Promise<never>((_, rej) =>
      proc.once('exit', (code, signal) =>
        rej(new Error(`nats-server ${this.spec.name} exited (${code ?? signal}): ${this.logTail()}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([
      until(`nats-server ${this.spec.name} accepting connections`, () => tcpOpen(this.spec.port), timeoutMs),
      exited,
    ]);
  }

  logTail(lines = 15): string {
    try {
      return readFileSync(this.#logPath, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  async kill(sig: NodeJS.Signals = 'SIGKILL', timeoutMs = 10_000): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const gone = new Promise<void>((res) => proc.once('exit', () => res()));
    if (sig !== 'SIGKILL') process.kill(proc.pid!, 'SIGCONT');
    process.kill(proc.pid!, sig);
    await Promise.race([gone, deadline(timeoutMs, `nats-server ${this.spec.name} to exit`)]).catch(
      async () => {
        process.kill(proc.pid!, 'SIGKILL');
        await gone;
      },
    );
  }

  /** Stops (SIGKILL or SIGTERM) and starts again on the same port and store. */
  async restart(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(sig);
    this.restarts++;
    await this.start();
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

export interface NatsDeployment {
  nodes: NatsNode[];
  /** Comma-separated client URLs of every node (what Parley's nats.url takes). */
  urls: string;
  partitions: number;
  stop(): Promise<void>;
}

/** Starts `count` (1 or 3) nodes; a cluster waits until JetStream has a meta leader. */
export async function startNats(options: { count: 1 | 3; partitions: number }): Promise<NatsDeployment> {
  const base = mkdtempSync(join(tmpdir(), 'parley-faults-nats-'));
  const nodes: NatsNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(base, { recursive: true, force: true });
  };
  try {
    if (options.count === 1) {
      nodes.push(new NatsNode({ name: 'n1', port: await freePort() }, join(base, 'n1'), options.partitions));
    } else {
      const ports = [await freePort(), await freePort(), await freePort()];
      const clusterPorts = [await freePort(), await freePort(), await freePort()];
      for (let i = 0; i < 3; i++) {
        nodes.push(
          new NatsNode(
            { name: `n${i + 1}`, port: ports[i]!, clusterPort: clusterPorts[i]!, routes: clusterPorts },
            join(base, `n${i + 1}`),
            options.partitions,
          ),
        );
      }
    }
    await Promise.all(nodes.map((n) => n.start()));
    const urls = nodes.map((n) => n.url).join(',');
    await waitForJetStream(urls, 30_000);
    return { nodes, urls, partitions: options.partitions, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves once the JetStream API answers (a cluster has elected its meta leader). */
export async function waitForJetStream(urls: string, timeoutMs: number): Promise<void> {
  await until(
    'JetStream API answering',
    async () => {
      const nc = await connect({ servers: urls.split(','), reconnect: false, timeout: 2000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        return true;
      } finally {
        await nc.close();
      }
    },
    timeoutMs,
    200,
  );
}
