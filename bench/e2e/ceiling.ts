/**
 * The raw JetStream ceiling of the e2e bench, measured in the same run on the same server.
 *
 * Writes per event are counted, not assumed: every stream's last sequence (KV buckets are streams too)
 * before and after a phase gives the JetStream writes the whole pipeline made for the events of that phase
 * (ingest publish, state writes, action, audit, execution claim and update, token leases, outcome event,
 * its state write, lease renewals...). Deduplicated republishes and failed compare-and-sets store nothing
 * and are not counted.
 *
 * The ceiling loop then does that many writes per event with the NATS client options Parley uses
 * (connectNats: noAsyncTraces): pull a batch of messages from EVENTS -> for each, the same number of KV
 * puts and stream publishes (fractions spread evenly), payloads of the average stored size, all awaited
 * together -> ack the batch. One consume per event (Parley consumes three: the event, its action, the
 * outcome event), no HTTP on either side: an upper bound for what a Node process can drive through this
 * server, not a pipeline.
 */
import { AckPolicy, DeliverPolicy, type StreamInfo } from '@nats-io/jetstream';
import type { NatsHandles } from '../../src/nats/connection.js';

export interface StreamCount {
  /** Last sequence: every message ever stored. */
  lastSeq: number;
  messages: number;
  bytes: number;
}

export type StreamCounts = Map<string, StreamCount>;

export async function streamCounts(h: NatsHandles): Promise<StreamCounts> {
  const out: StreamCounts = new Map();
  const lister = h.jsm.streams.list();
  for await (const si of lister as AsyncIterable<StreamInfo>) {
    out.set(si.config.name, {
      lastSeq: si.state.last_seq,
      messages: si.state.messages,
      bytes: si.state.bytes,
    });
  }
  return out;
}

export interface WriteCount {
  total: number;
  kv: number;
  streams: number;
  /** Writes per stream (KV_<bucket> for buckets). */
  byStream: Record<string, number>;
  /** Average stored message size of those writes, bytes (current messages of each stream, weighted). */
  avgBytes: number;
}

export function writesBetween(before: StreamCounts, after: StreamCounts, ignore: string[] = []): WriteCount {
  const byStream: Record<string, number> = {};
  let total = 0;
  let kv = 0;
  let weightedBytes = 0;
  for (const [name, a] of after) {
    if (ignore.includes(name)) continue;
    const n = a.lastSeq - (before.get(name)?.lastSeq ?? 0);
    if (n <= 0) continue;
    byStream[name] = n;
    total += n;
    if (name.startsWith('KV_')) kv += n;
    weightedBytes += n * (a.messages > 0 ? a.bytes / a.messages : 0);
  }
  return {
    total,
    kv,
    streams: total - kv,
    byStream,
    avgBytes: total ? Math.round(weightedBytes / total) : 0,
  };
}

export interface CeilingOptions {
  events: number;
  deadlineMs: number;
  kvPerEvent: number;
  publishesPerEvent: number;
  payloadBytes: number;
  /** Messages pulled per round (Parley's partition consumers pull 512). */
  pullBatch: number;
}

export interface CeilingResult {
  events: number;
  ms: number;
  eventsPerSecond: number;
  writes: number;
  timedOut: boolean;
}

/** Spreads a fractional per-event count evenly: how many writes event number `i` does. */
function share(perEvent: number, i: number): number {
  return Math.floor((i + 1) * perEvent) - Math.floor(i * perEvent);
}

export async function rawCeiling(h: NatsHandles, o: CeilingOptions): Promise<CeilingResult> {
  const suffix = Date.now().toString(36);
  const durable = `bench-ceiling-${suffix}`;
  const streamName = `BENCH_CEILING_${suffix}`;
  const bucket = `bench-ceiling-${suffix}`;
  await h.jsm.consumers.add('EVENTS', {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 20_000,
  });
  await h.jsm.streams.add({
    name: streamName,
    subjects: [`bench.ceiling.${suffix}.>`],
    duplicate_window: 120_000_000_000,
  });
  const kv = await h.kvm.create(bucket);
  const payload = new Uint8Array(Math.max(16, o.payloadBytes)).fill(120);
  try {
    const consumer = await h.js.consumers.get('EVENTS', durable);
    const started = performance.now();
    const deadline = started + o.deadlineMs;
    let done = 0;
    let writes = 0;
    let timedOut = false;
    while (done < o.events) {
      if (performance.now() > deadline) {
        timedOut = true;
        break;
      }
      const msgs = await consumer.fetch({
        max_messages: Math.min(o.pullBatch, o.events - done),
        expires: 2000,
      });
      const pending: Promise<unknown>[] = [];
      const got = [];
      for await (const m of msgs) {
        const i = done + got.length;
        got.push(m);
        const conversation = m.subject.split('.')[3] ?? 'x';
        for (let k = share(o.kvPerEvent, i); k > 0; k--)
          pending.push(kv.put(`${conversation}.${k}`, payload));
        for (let k = share(o.publishesPerEvent, i); k > 0; k--)
          pending.push(h.js.publish(`bench.ceiling.${suffix}.${m.seq}`, payload, { msgID: `${m.seq}.${k}` }));
      }
      writes += pending.length;
      await Promise.all(pending);
      for (const m of got) m.ack();
      done += got.length;
      if (got.length === 0) break; // EVENTS holds fewer messages than asked for
    }
    const ms = performance.now() - started;
    return {
      events: done,
      ms: Math.round(ms),
      eventsPerSecond: Math.round((done / ms) * 1000),
      writes,
      timedOut,
    };
  } finally {
    await h.jsm.consumers.delete('EVENTS', durable).catch(() => undefined);
    await h.jsm.streams.delete(streamName).catch(() => undefined);
    await h.kvm
      .open(bucket)
      .then((b) => b.destroy())
      .catch(() => undefined);
  }
}
