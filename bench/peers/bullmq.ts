/**
 * BullMQ on Redis as a peer: redis-server (redis.ts), one worker child process (bullmq-peer.mjs, every
 * queue's Worker in one Node process, as Parley runs in one), and the producer in the bench process,
 * loaded at run time from bench/peers/ so nothing of BullMQ reaches Parley's bundle or dependencies.
 * ordered: 64 queues x concurrency 1 (a conversation always on one queue); unordered: one queue x 200.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IngestEvent, Ledger } from '../e2e/workload.js';
import type { Submitter } from '../run/driver.js';
import { RISKY_TEXTS, STOP_TEXT } from '../run/plan.js';
import { ensurePeerModules, ensureRedisServer, peersDir } from './install.js';
import { startRedis } from './redis.js';

interface Producer {
  add(event: IngestEvent, conversation: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface PeerSystem {
  description: string;
  versions: Record<string, string>;
  submitter: Submitter;
  processes: Array<{ name: string; pid: number | undefined; kind: 'engine' | 'store' }>;
  stop(): Promise<void>;
}

export async function startBullmqPeer(
  ordered: boolean,
  o: {
    root: string;
    dir: string;
    simUrl: string;
    ledger: Ledger;
    conversationIndex: (id: string) => number;
    note: (s: string) => void;
  },
): Promise<PeerSystem> {
  ensurePeerModules(o.root, 'bullmq', o.note);
  ensureRedisServer(o.note);
  const dir = peersDir(o.root);
  const bullmqVersion = (
    JSON.parse(readFileSync(join(dir, 'node_modules', 'bullmq', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const redis = await startRedis(o.dir);
  let child: ChildProcess | undefined;
  let producer: Producer | undefined;
  const stop = async () => {
    await producer?.close().catch(() => undefined);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await redis.stop();
  };
  try {
    const script = join(dir, 'bullmq-peer.mjs');
    const config = {
      redisUrl: redis.url,
      ordered,
      concurrency: ordered ? 1 : 200,
      simUrl: o.simUrl,
      secret: `whsec_${randomBytes(24).toString('base64')}`,
      stopText: STOP_TEXT,
      riskyTexts: RISKY_TEXTS,
    };
    const proc = spawn(process.execPath, [script, 'worker', JSON.stringify(config)], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stderr!.on('data', (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`bench: the BullMQ worker was not ready in 30 s: ${out}`)),
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
        reject(new Error(`bench: the BullMQ worker exited (${code}): ${out}`));
      });
    });
    proc.stdout!.resume();
    const mod = (await import(pathToFileURL(script).href)) as {
      createProducer(o: { redisUrl: string; ordered: boolean }): Promise<Producer>;
    };
    producer = await mod.createProducer({ redisUrl: redis.url, ordered });
    const p = producer;
    const ledger = o.ledger;
    const submitter: Submitter = {
      lastError: undefined,
      async submit(events, indexes) {
        for (const i of indexes) if (i >= 0) ledger.markPosted(i);
        try {
          await Promise.all(events.map((e) => p.add(e, Math.max(0, o.conversationIndex(e.conversation)))));
        } catch (err) {
          this.lastError = String(err);
          ledger.failedRequests++;
          return 0;
        }
        const at = Date.now();
        for (const i of indexes) if (i >= 0) ledger.acked(i, at);
        return events.length;
      },
      close: async () => undefined,
    };
    return {
      description: ordered
        ? 'BullMQ on Redis: 64 queues x concurrency 1 (per-conversation order), one worker process'
        : 'BullMQ on Redis: one queue, concurrency 200 (no per-conversation order), one worker process',
      versions: { bullmq: bullmqVersion, redis: redis.version },
      submitter,
      processes: [
        { name: 'bullmq-worker', pid: proc.pid, kind: 'engine' },
        { name: 'redis-server', pid: redis.pid, kind: 'store' },
      ],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
