/**
 * Restate as a peer: restate-server (from @restatedev/restate-server, its shipped defaults: 24
 * partitions, one node, every role) on free loopback ports with its data in a temporary directory and
 * telemetry off; one service process (restate-peer.mjs: the `conversation` virtual object), registered
 * with the admin API; the producer in the bench process posts each event to the ingress as a one-way
 * send with the event id as idempotency key (acknowledged once Restate has durably accepted it).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { freePort } from '../e2e/parley-child.js';
import type { IngestEvent, Ledger } from '../e2e/workload.js';
import type { Submitter } from '../run/driver.js';
import { RISKY_TEXTS, STOP_TEXT } from '../run/plan.js';
import type { PeerSystem } from './bullmq.js';
import { ensurePeerModules, peersDir } from './install.js';

function call(
  agent: Agent | undefined,
  url: string,
  method: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: {
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

export async function startRestatePeer(o: {
  root: string;
  dir: string;
  simUrl: string;
  ledger: Ledger;
  note: (s: string) => void;
}): Promise<PeerSystem> {
  ensurePeerModules(o.root, '@restatedev/restate-server', o.note);
  const dir = peersDir(o.root);
  const pkg = (p: string) =>
    (JSON.parse(readFileSync(join(dir, 'node_modules', p, 'package.json'), 'utf8')) as { version: string })
      .version;
  const bin = join(
    dir,
    'node_modules',
    '@restatedev',
    `restate-server-linux-${process.arch}`,
    'bin',
    'restate-server',
  );
  const [ingress, admin, fabric, servicePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  let server: ChildProcess | undefined;
  let service: ChildProcess | undefined;
  let serverLog = '';
  const stop = async () => {
    await stopChild(service);
    await stopChild(server);
  };
  try {
    server = spawn(
      bin,
      [
        '--no-logo',
        '--listen-mode',
        'tcp',
        '--bind-ip',
        '127.0.0.1',
        '--bind-port',
        String(fabric),
        '--base-dir',
        join(o.dir, 'restate'),
      ],
      {
        env: {
          ...process.env,
          RESTATE_DISABLE_TELEMETRY: 'true',
          RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
          RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
          RESTATE_LOG_FORMAT: 'compact',
          RESTATE_LOG_DISABLE_ANSI_CODES: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (b: Buffer) => {
      serverLog = (serverLog + b.toString()).slice(-4000);
    };
    server.stdout!.on('data', keep);
    server.stderr!.on('data', keep);
    const adminUrl = `http://127.0.0.1:${admin}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`bench: restate-server exited at start: ${serverLog}`);
      const ok = await call(undefined, `${adminUrl}/health`, 'GET').catch(() => ({ status: 0, text: '' }));
      const ing = await call(undefined, `http://127.0.0.1:${ingress}/restate/health`, 'GET').catch(() => ({
        status: 0,
        text: '',
      }));
      if (ok.status === 200 && ing.status === 200) break;
      if (Date.now() > deadline)
        throw new Error(`bench: restate-server was not healthy in 60 s: ${serverLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const config = {
      port: servicePort,
      simUrl: o.simUrl,
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      stopText: STOP_TEXT,
      riskyTexts: RISKY_TEXTS,
    };
    const proc = spawn(process.execPath, [join(dir, 'restate-peer.mjs'), JSON.stringify(config)], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service = proc;
    let out = '';
    proc.stderr!.on('data', (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`bench: the Restate service was not ready in 30 s: ${out}`)),
        30_000,
      );
      proc.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`bench: the Restate service exited (${code}): ${out}`));
      });
    });
    proc.stdout!.resume();
    const reg = await call(
      undefined,
      `${adminUrl}/deployments`,
      'POST',
      JSON.stringify({ uri: `http://127.0.0.1:${servicePort}` }),
    );
    if (reg.status >= 300)
      throw new Error(`bench: registering the Restate service failed: ${reg.status} ${reg.text}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    const ingressUrl = `http://127.0.0.1:${ingress}`;
    const ledger = o.ledger;
    const sendOne = async (e: IngestEvent) => {
      for (let attempt = 1; attempt <= 5; attempt++) {
        const r = await call(
          agent,
          `${ingressUrl}/conversation/${encodeURIComponent(e.conversation)}/event/send`,
          'POST',
          JSON.stringify(e),
          { 'idempotency-key': e.id },
        ).catch((err: Error) => ({ status: 0, text: String(err) }));
        if (r.status === 200 || r.status === 202) return;
        if (attempt === 5) throw new Error(`restate ingress answered ${r.status}: ${r.text.slice(0, 200)}`);
        await new Promise((res) => setTimeout(res, 100 * attempt));
      }
    };
    const submitter: Submitter = {
      lastError: undefined,
      async submit(events, indexes) {
        for (const i of indexes) if (i >= 0) ledger.markPosted(i);
        try {
          await Promise.all(events.map(sendOne));
        } catch (err) {
          this.lastError = String(err);
          ledger.failedRequests++;
          return 0;
        }
        const at = Date.now();
        for (const i of indexes) if (i >= 0) ledger.acked(i, at);
        return events.length;
      },
      close: async () => {
        agent.destroy();
      },
    };
    return {
      description:
        'Restate virtual objects (one per conversation), restate-server defaults (24 partitions), one service process',
      versions: {
        'restate-server': pkg('@restatedev/restate-server'),
        'restate-sdk': pkg('@restatedev/restate-sdk'),
      },
      submitter,
      processes: [
        { name: 'restate-service', pid: proc.pid, kind: 'engine' },
        { name: 'restate-server', pid: server.pid, kind: 'store' },
      ],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
