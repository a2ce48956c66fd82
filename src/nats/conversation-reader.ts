/**
 * ConversationReader over NATS: the state is the `parley-state` KV entry `<tenant>.<conversation>` (msgpack
 * `{ seq, state }`, written by the actors); the trail is the conversation's AUDIT records
 * (`audit.<kind>.<tenant>.<conversation>`) merged with its approved actions on ACTIONS (each carries the
 * gate's approval record: kind `sent`), read with ordered consumers filtered to that conversation.
 *
 * The trail read scans the conversation's AUDIT records (30 days of retention) to keep the newest `limit`:
 * fine for the hundreds of records a conversation produces, bounded by `maxScan` and a deadline otherwise.
 */

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { HDR_CONTENT_TYPE } from '../contracts/headers.js';
import { STREAMS } from '../contracts/names.js';
import { decodeBody, decodeMsgpack } from '../envelope/codec.js';
import { errorMessage, RetryableError } from '../errors/app-error.js';
import type { ConversationReader, StoredConversation, TrailEntry } from '../http/ports.js';
import { isStreamNotFound } from './errors.js';

export const AUDIT_STREAM = STREAMS.audit;
export const ACTIONS_STREAM = STREAMS.actions;

/** An approved action as a trail record: the gate's approval and what was approved. */
function approvalEntry(record: unknown): unknown {
  if (typeof record !== 'object' || record === null) return record;
  const a = record as Record<string, unknown>;
  const approval = (a.approval as Record<string, unknown> | undefined) ?? {};
  return {
    ...approval,
    decision: 'sent',
    action: { id: a.id, channel: a.channel, rule: a.rule, template: a.template, decidedAt: a.decidedAt },
  };
}

export interface ConversationReaderOptions {
  /** Most AUDIT records scanned per request; default 10000. */
  maxScan?: number;
  /** Deadline for the trail read, in ms; default 3000. */
  timeoutMs?: number;
}

function decodeRecord(data: Uint8Array, contentType: string | undefined): unknown {
  try {
    return decodeBody(data, contentType);
  } catch {
    return new TextDecoder().decode(data);
  }
}

export class NatsConversationReader implements ConversationReader {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #state: KV;
  readonly #maxScan: number;
  readonly #timeoutMs: number;

  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    state: KV,
    options: ConversationReaderOptions = {},
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#state = state;
    this.#maxScan = options.maxScan ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 3_000;
  }

  async read(tenant: string, conversation: string): Promise<StoredConversation | undefined> {
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await this.#state.get(`${tenant}.${conversation}`);
    } catch (err) {
      throw new RetryableError(`state unavailable: ${errorMessage(err)}`, {
        code: 'NATS_UNAVAILABLE',
        cause: err,
      });
    }
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    const stored = decodeMsgpack(entry.value) as { seq?: number; state?: unknown };
    return { seq: stored.seq ?? 0, state: stored.state ?? null };
  }

  /**
   * The newest `limit` records of the conversation's decision trail, oldest first: its AUDIT records and
   * its approved actions on ACTIONS, which carry the gate's approval record themselves (kind `sent`).
   */
  async trail(tenant: string, conversation: string, limit: number): Promise<TrailEntry[]> {
    if (limit <= 0) return [];
    const [audits, approvals] = await Promise.all([
      this.#scan(AUDIT_STREAM, `audit.*.${tenant}.${conversation}`, limit, (subject, record) => ({
        kind: subject.split('.')[1] ?? '',
        record,
      })),
      this.#scan(ACTIONS_STREAM, `act.*.*.${tenant}.${conversation}`, limit, (_subject, record) => ({
        kind: 'sent',
        record: approvalEntry(record),
      })),
    ]);
    const merged = [...audits, ...approvals].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return merged.slice(-limit);
  }

  async #scan(
    stream: string,
    filter: string,
    limit: number,
    toEntry: (subject: string, record: unknown) => { kind: string; record: unknown },
  ): Promise<TrailEntry[]> {
    try {
      const info = await this.#jsm.streams.info(stream, { subjects_filter: filter });
      const total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      if (total === 0) return [];
      const consumer = await this.#js.consumers.get(stream, { filter_subjects: filter });
      const messages = await consumer.consume({ max_messages: Math.min(total, 256) });
      const timer = setTimeout(() => void messages.stop(), this.#timeoutMs);
      const out: TrailEntry[] = [];
      let scanned = 0;
      try {
        for await (const m of messages) {
          const record = decodeRecord(m.data, m.headers?.get(HDR_CONTENT_TYPE) || undefined);
          out.push({ seq: m.seq, time: m.time.toISOString(), ...toEntry(m.subject, record) });
          if (out.length > limit) out.shift();
          if (++scanned >= this.#maxScan || m.info.pending === 0) break;
        }
      } finally {
        clearTimeout(timer);
        await messages.close().catch(() => {});
        // An ordered consumer is ephemeral but lingers for its inactive threshold (5 min): remove it now.
        await consumer.delete().catch(() => {});
      }
      return out;
    } catch (err) {
      if (isStreamNotFound(err)) return [];
      throw new RetryableError(`audit trail unavailable: ${errorMessage(err)}`, {
        code: 'NATS_UNAVAILABLE',
        cause: err,
      });
    }
  }
}
