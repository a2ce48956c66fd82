/**
 * The DLQ stream as a DeadLetterStore for `parley dlq`: dead letters by subject filter
 * (`dlq.<channel>.<tenant>`, wildcards allowed), one by sequence, delete by sequence. Listing uses direct
 * get with next_by_subj (allow_direct, nats-server 2.9+), so it never creates a consumer.
 */

import type { StoredMsg } from '@nats-io/jetstream';
import type { DeadLetterStore, StoredDeadLetter } from '../connectors/dead-letters.js';
import { STREAMS } from '../contracts/names.js';
import type { NatsHandles } from './connection.js';

export const DLQ_STREAM = STREAMS.dlq;

function toDeadLetter(m: StoredMsg): StoredDeadLetter {
  const headers: Record<string, string> = {};
  if (m.header) for (const [k] of m.header) headers[k] = m.header.get(k);
  return { seq: m.seq, subject: m.subject, time: m.time, data: m.data, headers };
}

export class NatsDeadLetterStore implements DeadLetterStore {
  readonly #h: NatsHandles;

  constructor(handles: NatsHandles) {
    this.#h = handles;
  }

  async list(filter = 'dlq.>', limit = 1000): Promise<StoredDeadLetter[]> {
    const out: StoredDeadLetter[] = [];
    let seq = 1;
    while (out.length < limit) {
      const m = await this.#h.jsm.direct.getMessage(DLQ_STREAM, { seq, next_by_subj: filter });
      if (!m) break;
      out.push(toDeadLetter(m));
      seq = m.seq + 1;
    }
    return out;
  }

  async get(seq: number): Promise<StoredDeadLetter | undefined> {
    const m = await this.#h.jsm.streams.getMessage(DLQ_STREAM, { seq });
    return m ? toDeadLetter(m) : undefined;
  }

  async delete(seq: number): Promise<boolean> {
    return this.#h.jsm.streams.deleteMessage(DLQ_STREAM, seq, false);
  }
}
