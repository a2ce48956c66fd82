/**
 * The scrape-time readers of src/obs/ops-metrics.ts over NATS: DLQ depth per channel (one stream info with a
 * subject filter) and the lag of the partition consumers a process owns (one paged consumer list per stream).
 */
import type { PartitionLag } from '../obs/ops-metrics.js';
import { ACTIONS_STREAM, connectorConsumerName } from './action-source.js';
import type { NatsHandles } from './connection.js';
import { DLQ_STREAM } from './dlq-store.js';
import { isStreamNotFound } from './errors.js';
import { EVENTS_STREAM, partitionConsumerName } from './partition-source.js';

export async function dlqDepthByChannel(h: NatsHandles): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const info = await h.jsm.streams.info(DLQ_STREAM, { subjects_filter: 'dlq.>' });
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const channel = subject.split('.')[1] ?? 'unknown';
      out.set(channel, (out.get(channel) ?? 0) + n);
    }
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  return out;
}

export async function partitionLag(h: NatsHandles, owned: readonly number[]): Promise<PartitionLag[]> {
  if (owned.length === 0) return [];
  const names = new Map<string, { stage: PartitionLag['stage']; partition: number }>();
  for (const p of owned) {
    names.set(partitionConsumerName(p), { stage: 'events', partition: p });
    names.set(connectorConsumerName(p), { stage: 'actions', partition: p });
  }
  const out: PartitionLag[] = [];
  for (const stream of [EVENTS_STREAM, ACTIONS_STREAM]) {
    try {
      for await (const c of h.jsm.consumers.list(stream)) {
        const at = names.get(c.name);
        if (at) out.push({ ...at, pending: c.num_pending, ackPending: c.num_ack_pending });
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
  }
  return out;
}
