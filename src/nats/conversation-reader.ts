/**
 * ConversationReader over NATS: the state is the `parley-state` KV entry `<tenant>.<conversation>` (msgpack
 * `{ seq, state }`, written by the actors); the trail is the conversation's AUDIT records
 * (`audit.<kind>.<tenant>.<conversation>`), read with an ordered consumer filtered to that conversation.
 *
 * The trail read scans the conversation's AUDIT records (30 days of retention) to keep the newest `limit`:
 * fine for the hundreds of records a conversation produces, bounded by `maxScan` and a deadline otherwise.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { decodeBody, decodeMsgpack } from '../envelope/codec.js';
import { HDR_CONTENT_TYPE } from '../envelope/headers.js';
import { errorMessage, RetryableError } from '../errors/app-error.js';
import type { ConversationReader, StoredConversation, TrailEntry } from '../http/ports.js';
import { isStreamNotFound } from './errors.js';

export const AUDIT_STREAM = 'AUDIT';

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

  async trail(tenant: string, conversation: string, limit: number): Promise<TrailEntry[]> {
    if (limit <= 0) return [];
    const filter = `audit.*.${tenant}.${conversation}`;
    try {
      const info = await this.#jsm.streams.info(AUDIT_STREAM, { subjects_filter: filter });
      const total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      if (total === 0) return [];
      const consumer = await this.#js.consumers.get(AUDIT_STREAM, { filter_subjects: filter });
      const messages = await consumer.consume({ max_messages: Math.min(total, 256) });
      const timer = setTimeout(() => void messages.stop(), this.#timeoutMs);
      const out: TrailEntry[] = [];
      let scanned = 0;
      try {
        for await (const m of messages) {
          out.push({
            seq: m.seq,
            kind: m.subject.split('.')[1] ?? '',
            time: m.time.toISOString(),
            record: decodeRecord(m.data, m.headers?.get(HDR_CONTENT_TYPE) || undefined),
          });
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
