/**
 * memory: resident memory of one Parley process as conversations are touched (one event each), with the
 * default passivation settings. Reports RSS after 50k and 100k conversations (or the given steps).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers } from '@nats-io/transport-node';
import { loadConfig } from '../../src/config/load.js';
import { encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { eventHeaders, ingestSubject } from '../../src/envelope/event-message.js';
import { start } from '../../src/main.js';
import { connectNats } from '../../src/nats/connection.js';
import { createLogger } from '../../src/obs/logger.js';
import { type BenchReport, benchServer, rssMiB, until } from '../harness.js';

export interface MemoryOptions {
  steps: number[];
  partitions: number;
  /** Live actors kept before passivating; default the runtime's default. */
  maxActors?: number;
}

export const memoryDefaults: MemoryOptions = { steps: [50_000, 100_000], partitions: 64 };

export async function runMemory(o: MemoryOptions): Promise<BenchReport> {
  const server = await benchServer(o.partitions);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-data-'));
  mkdirSync(join(dataDir, 'rules'));
  const { config } = loadConfig({
    env: {},
    overrides: {
      dataDir,
      partitions: o.partitions,
      rules: join(dataDir, 'rules'),
      nats: { url: server.url },
      log: { level: 'warn' },
      ...(o.maxActors ? { runtime: { maxActors: o.maxActors } } : {}),
    },
  });
  const producer = await connectNats({ url: server.url, name: 'bench-producer', reconnect: false });
  try {
    const parley = await start(config, { roles: ['actors'], logger: createLogger({ level: 'warn' }) });
    const applied = async () => {
      const m = await parley.registry.getSingleMetric('parley_actor_events_total')?.get();
      return m?.values.find((v) => v.labels.outcome === 'applied')?.value ?? 0;
    };
    const baseline = rssMiB();
    const points: Record<string, unknown> = {};
    let touched = 0;
    for (const step of o.steps) {
      let batch: Promise<unknown>[] = [];
      for (; touched < step; touched++) {
        const e: EventEnvelope = {
          schema: 1,
          id: `m${touched}`,
          type: 'message.received',
          tenant: 'bench',
          conversation: `m${touched}`,
          occurredAt: new Date().toISOString(),
          attributes: { text: 'hi' },
        };
        const h = headers();
        for (const [k, v] of Object.entries(eventHeaders(e))) h.set(k, v);
        batch.push(producer.js.publish(ingestSubject(e), encode(e), { msgID: e.id, headers: h }));
        if (batch.length >= 1000) {
          await Promise.all(batch);
          batch = [];
        }
      }
      await Promise.all(batch);
      await until(`${step} conversations applied`, async () => (await applied()) >= step, 600_000);
      global.gc?.();
      points[`${step / 1000}k`] = {
        rssMiB: rssMiB(),
        actorsInMemory: parley.actors?.status().actors ?? 0,
        heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
      };
    }
    await parley.stop();
    return {
      scenario: 'memory',
      machine: { cpus: cpus().length, node: process.version },
      settings: { maxActors: config.runtime.maxActors, passivateAfterMs: config.runtime.passivateAfterMs },
      baselineRssMiB: baseline,
      conversationsTouched: points,
    };
  } finally {
    await producer.nc.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
