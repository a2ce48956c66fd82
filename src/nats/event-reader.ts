/**
 * Reads a range of EVENTS for replay with an ordered consumer (ephemeral, nothing acked, nothing written):
 * optionally one tenant (`evt.*.<tenant>.>`), from a sequence or a time, up to a sequence or a time, and
 * never past the stream's last sequence at the start (so a replay of a live stream ends).
 */

import { DeliverPolicy } from '@nats-io/jetstream';
import type { EventEnvelope } from '../contracts/envelope.js';
import { HDR_SOURCE_SEQ } from '../contracts/headers.js';
import type { StoredEvent } from '../contracts/ports.js';
import { parseEventMessage } from '../envelope/event-message.js';
import type { NatsHandles } from './connection.js';
import { EVENTS_STREAM } from './partition-source.js';

export type Bound = { seq: number } | { time: number };

export interface EventRange {
  tenant?: string;
  from?: Bound;
  to?: Bound;
}

export type { StoredEvent } from '../contracts/ports.js';

export async function* readEvents(h: NatsHandles, range: EventRange): AsyncGenerator<StoredEvent> {
  const info = await h.jsm.streams.info(EVENTS_STREAM);
  let last = info.state.last_seq;
  if (range.to && 'seq' in range.to) last = Math.min(last, range.to.seq);
  if (last === 0) return;
  const from = range.from;
  const consumer = await h.js.consumers.get(EVENTS_STREAM, {
    filter_subjects: range.tenant ? `evt.*.${range.tenant}.>` : 'evt.>',
    ...(from && 'seq' in from
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, from.seq) }
      : from
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.time).toISOString() }
        : { deliver_policy: DeliverPolicy.All }),
  });
  const pending = (await consumer.info(true)).num_pending;
  // An ordered consumer is ephemeral but lingers for its inactive threshold (5 min): removed when done.
  if (pending === 0) {
    await consumer.delete().catch(() => undefined);
    return;
  }
  const messages = await consumer.consume({ max_messages: 1000 });
  try {
    for await (const m of messages) {
      if (m.seq > last) break;
      const timestampMs = Math.floor(m.info.timestampNanos / 1_000_000);
      if (range.to && 'time' in range.to && timestampMs > range.to.time) break;
      let event: EventEnvelope | undefined;
      try {
        event = parseEventMessage({
          subject: m.subject,
          data: m.data,
          header: (n) => (m.headers?.has(n) ? m.headers.get(n) : undefined),
          seq: m.seq,
          timestampMs,
        });
      } catch {
        event = undefined; // undecodable: the live actor dead-lettered it too
      }
      if (event) {
        const derived = event.type === 'timer.wake' || (m.headers?.has(HDR_SOURCE_SEQ) ?? false);
        yield { seq: m.seq, timestampMs, event, derived };
      }
      if (m.seq >= last || m.info.pending === 0) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}
