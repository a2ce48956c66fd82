/**
 * spine: events published -> state committed, through the real runtime (one process, one local
 * nats-server). Publishes a backlog of conversations x events to EVENTS, then starts the actors and
 * times until every event is applied; then measures the raw JetStream ceiling for the same writes per
 * event (consume -> state KV write + one publish per effect -> ack) in the same run.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { loadConfig } from '../../src/config/load.js';
import { encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { eventHeaders, ingestSubject } from '../../src/envelope/event-message.js';
import { STATE_BUCKET, start } from '../../src/main.js';
import { connectNats, type NatsHandles } from '../../src/nats/connection.js';
import { createLogger } from '../../src/obs/logger.js';
import { type BenchReport, benchServer, rate, rssMiB, until } from '../harness.js';

export interface SpineOptions {
  conversations: number;
  events: number;
  partitions: number;
  /** Rules: 'echo' (one action per event) or 'none' (state only). */
  rules: 'echo' | 'none';
  ceiling: boolean;
}

export const spineDefaults: SpineOptions = {
  conversations: 10_000,
  events: 20,
  partitions: 64,
  rules: 'echo',
  ceiling: true,
};

function makeEvent(c: number, n: number): EventEnvelope {
  return {
    schema: 1,
    id: `b${c}-${n}`,
    type: 'message.received',
    tenant: 'bench',
    conversation: `c${c}`,
    occurredAt: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
    attributes: { n, text: 'hello there' },
  };
}

export async function publishBacklog(h: NatsHandles, conversations: number, events: number): Promise<number> {
  const started = performance.now();
  const chunk = 1000;
  let batch: Promise<unknown>[] = [];
  for (let n = 0; n < events; n++) {
    for (let c = 0; c < conversations; c++) {
      const e = makeEvent(c, n);
      const hdrs = headers();
      for (const [k, v] of Object.entries(eventHeaders(e))) hdrs.set(k, v);
      batch.push(h.js.publish(ingestSubject(e), encode(e), { msgID: e.id, headers: hdrs }));
      if (batch.length >= chunk) {
        await Promise.all(batch);
        batch = [];
      }
    }
  }
  await Promise.all(batch);
  return performance.now() - started;
}

/** consume -> KV put + `publishes` publishes -> ack, on the backlog in EVENTS: the client-side ceiling. */
async function rawCeiling(h: NatsHandles, total: number, publishes: number): Promise<number> {
  await h.jsm.consumers.add('EVENTS', {
    durable_name: 'bench-ceiling',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 20_000,
  });
  await h.jsm.streams.add({
    name: 'BENCH_CEILING',
    subjects: ['bench.ceiling.>'],
    duplicate_window: 120_000_000_000,
  });
  const kv = await h.kvm.create('bench-ceiling');
  const consumer = await h.js.consumers.get('EVENTS', 'bench-ceiling');
  const started = performance.now();
  let done = 0;
  while (done < total) {
    const msgs = await consumer.fetch({ max_messages: 1000, expires: 2000 });
    const pending: Promise<unknown>[] = [];
    const got = [];
    for await (const m of msgs) {
      got.push(m);
      pending.push(kv.put(`k${m.subject.split('.')[3]}`, m.data));
      for (let i = 0; i < publishes; i++)
        pending.push(h.js.publish(`bench.ceiling.${m.seq}`, m.data, { msgID: `${m.seq}.${i}` }));
    }
    await Promise.all(pending);
    for (const m of got) m.ack();
    done += got.length;
  }
  return performance.now() - started;
}

export async function runSpine(o: SpineOptions): Promise<BenchReport> {
  const server = await benchServer(o.partitions);
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-bench-data-'));
  const rulesDir = join(dataDir, 'rules');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(rulesDir);
  if (o.rules === 'echo')
    writeFileSync(
      join(rulesDir, 'echo.yaml'),
      'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack\n',
    );
  const total = o.conversations * o.events;
  const { config } = loadConfig({
    env: {},
    overrides: {
      dataDir,
      partitions: o.partitions,
      rules: rulesDir,
      nats: { url: server.url },
      log: { level: 'warn' },
    },
  });
  const producer = await connectNats({ url: server.url, name: 'bench-producer', reconnect: false });
  try {
    // Streams first (start once without actors would also do it): start provisions, then stop pulling at once.
    const provision = await start(config, { roles: [], logger: createLogger({ level: 'warn' }) });
    await provision.stop();
    const publishMs = await publishBacklog(producer, o.conversations, o.events);
    const rssBefore = rssMiB();

    const parley = await start(config, { roles: ['actors'], logger: createLogger({ level: 'warn' }) });
    const started = performance.now();
    const applied = async () => {
      const m = await parley.registry.getSingleMetric('parley_actor_events_total')?.get();
      return m?.values.find((v) => v.labels.outcome === 'applied')?.value ?? 0;
    };
    let peakRss = rssMiB();
    await until(
      'all events applied',
      async () => {
        peakRss = Math.max(peakRss, rssMiB());
        return (await applied()) >= total;
      },
      600_000,
    );
    const processMs = performance.now() - started;
    const actorsLive = parley.actors?.status().actors ?? 0;
    await parley.stop();

    const kv = await producer.kvm.open(STATE_BUCKET);
    const sample = await kv.get('bench.c0');
    const actions = (await producer.jsm.streams.info('ACTIONS')).state.messages;

    let ceiling: Record<string, unknown> | undefined;
    if (o.ceiling) {
      const ceilingMs = await rawCeiling(producer, total, o.rules === 'echo' ? 1 : 0);
      ceiling = {
        writesPerEvent: o.rules === 'echo' ? '1 KV put + 1 publish + ack' : '1 KV put + ack',
        eventsPerSecond: rate(total, ceilingMs),
        spineFraction: Math.round((rate(total, processMs) / rate(total, ceilingMs)) * 100) / 100,
      };
    }
    return {
      scenario: 'spine',
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      workload: {
        conversations: o.conversations,
        eventsPerConversation: o.events,
        events: total,
        partitions: o.partitions,
        rules: o.rules,
      },
      publish: { ms: Math.round(publishMs), eventsPerSecond: rate(total, publishMs) },
      spine: {
        ms: Math.round(processMs),
        eventsPerSecond: rate(total, processMs),
        actionsPublished: actions,
        actorsLiveAtEnd: actorsLive,
      },
      ...(ceiling ? { rawJetStreamCeiling: ceiling } : {}),
      memory: { rssBeforeMiB: rssBefore, peakRssMiB: peakRss },
      checks: {
        stateOfC0Written: Boolean(sample),
        duplicateActions: actions - (o.rules === 'echo' ? total : 0),
      },
    };
  } finally {
    await producer.nc.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
