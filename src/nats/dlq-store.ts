/**
 * Reads and edits the DLQ stream for `parley dlq`: dead letters by subject filter (`dlq.<channel>.<tenant>`,
 * wildcards allowed), one by sequence, delete by sequence. Uses direct get with next_by_subj (allow_direct, 2.9+),
 * so listing never creates a consumer.
 */
import type { StoredMsg } from '@nats-io/jetstream';
import type { NatsHandles } from './connection.js';

export const DLQ_STREAM = 'DLQ';

export interface StoredDeadLetter {
  seq: number;
  subject: string;
  time: Date;
  data: Uint8Array;
  headers: Record<string, string>;
}

function toDeadLetter(m: StoredMsg): StoredDeadLetter {
  const headers: Record<string, string> = {};
  if (m.header) for (const [k] of m.header) headers[k] = m.header.get(k);
  return { seq: m.seq, subject: m.subject, time: m.time, data: m.data, headers };
}

export async function listDeadLetters(
  handles: NatsHandles,
  filter = 'dlq.>',
  limit = 1000,
): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  let seq = 1;
  while (out.length < limit) {
    const m = await handles.jsm.direct.getMessage(DLQ_STREAM, { seq, next_by_subj: filter });
    if (!m) break;
    out.push(toDeadLetter(m));
    seq = m.seq + 1;
  }
  return out;
}

export async function getDeadLetter(
  handles: NatsHandles,
  seq: number,
): Promise<StoredDeadLetter | undefined> {
  const m = await handles.jsm.streams.getMessage(DLQ_STREAM, { seq });
  return m ? toDeadLetter(m) : undefined;
}

export async function deleteDeadLetter(handles: NatsHandles, seq: number): Promise<boolean> {
  return handles.jsm.streams.deleteMessage(DLQ_STREAM, seq, false);
}
