/**
 * Operator work on the DLQ (`parley dlq list|show|redrive|drop`): decode dead letters, redrive them and
 * drop them, each operator action recorded in AUDIT.
 *
 * What must stay true: a redrive republishes the original bytes unchanged, so the action keeps its ID
 * (webhook-id, idempotency key and execution record key); the republish gets a Nats-Msg-Id of its own
 * (`<action ID>.redrive.<dlq seq>`) so the ACTIONS duplicate window does not swallow it, and the
 * `Parley-Redrive` header lets the connector re-open a dead execution record exactly once. An action whose
 * record says "sent" is never sent again, redrive or not.
 */

import {
  CONTENT_TYPE_JSON,
  CONTENT_TYPE_MSGPACK,
  HDR_CONTENT_TYPE,
  HDR_CONVERSATION,
  HDR_MSG_ID,
  HDR_TENANT,
  HDR_TRACE_ID,
  HDR_TYPE,
} from '../contracts/headers.js';
import type { OutboundMessage, Publisher } from '../contracts/ports.js';
import { decodeBody, decodeMsgpack } from '../envelope/codec.js';
import { ValidationError } from '../errors/app-error.js';
import { parseAction } from './action.js';
import { auditRecord, HDR_ACTION_ID, HDR_REDRIVE } from './messages.js';

export interface StoredDeadLetter {
  seq: number;
  subject: string;
  time: Date;
  data: Uint8Array;
  headers: Record<string, string>;
}

export interface DeadLetterStore {
  list(filter: string, limit: number): Promise<StoredDeadLetter[]>;
  get(seq: number): Promise<StoredDeadLetter | undefined>;
  delete(seq: number): Promise<boolean>;
}

/** A dead letter as operators see it (the original payload summarized, never dumped raw). */
export interface DeadLetterView {
  seq: number;
  subject: string;
  time: string;
  kind: string;
  reason: string;
  error: string;
  attempts: number;
  channel?: string;
  tenant?: string;
  conversation?: string;
  action?: string;
  rule?: string;
  source?: { stream: string; seq: number; subject: string };
  redrive?: number;
  payload?: unknown;
}

interface DeadLetterBody {
  kind?: string;
  reason?: string;
  error?: string;
  attempts?: number;
  channel?: string;
  action?: { id: string; tenant: string; conversation: string; rule: string };
  source?: { stream: string; seq: number; subject: string };
  redrive?: number;
  data?: Uint8Array;
  /** The original message's readable headers (Content-Type, type, trace id), as the actors recorded them. */
  headers?: Record<string, string>;
}

function body(stored: StoredDeadLetter): DeadLetterBody {
  try {
    return decodeMsgpack(stored.data) as DeadLetterBody;
  } catch {
    return {};
  }
}

function payloadOf(b: DeadLetterBody): unknown {
  if (!b.data) return undefined;
  try {
    // An event may have been JSON (HTTP ingest stores msgpack; NATS producers may publish JSON).
    return b.kind === 'action' ? decodeMsgpack(b.data) : decodeBody(b.data, b.headers?.[HDR_CONTENT_TYPE]);
  } catch {
    return Buffer.from(b.data).toString('base64');
  }
}

export function viewDeadLetter(stored: StoredDeadLetter, withPayload = false): DeadLetterView {
  const b = body(stored);
  const parts = stored.subject.split('.');
  return {
    seq: stored.seq,
    subject: stored.subject,
    time: stored.time.toISOString(),
    kind: b.kind ?? 'unknown',
    reason: b.reason ?? 'unknown',
    error: b.error ?? stored.headers['Parley-Error'] ?? '',
    attempts: b.attempts ?? 0,
    channel: b.channel ?? parts[1],
    tenant: b.action?.tenant ?? parts[2],
    ...(b.action
      ? { conversation: b.action.conversation, action: b.action.id, rule: b.action.rule }
      : stored.headers[HDR_CONVERSATION]
        ? { conversation: stored.headers[HDR_CONVERSATION] }
        : {}),
    ...(b.source
      ? { source: { stream: b.source.stream, seq: b.source.seq, subject: b.source.subject } }
      : {}),
    ...(b.redrive === undefined ? {} : { redrive: b.redrive }),
    ...(withPayload ? { payload: payloadOf(b) } : {}),
  };
}

/** `dlq.<channel>.<tenant>` filter from optional channel and tenant. */
export function dlqFilter(channel?: string, tenant?: string): string {
  return `dlq.${channel ?? '*'}.${tenant ?? '*'}`;
}

/**
 * Dead letters of one channel (or all) visible to an operator limited to `tenants`, oldest first, at most
 * `limit`: one subject filter per tenant, so other tenants' letters never use up the limit. Without a scope
 * (or with `tenant` given, which the caller has checked), one filter.
 */
export async function listVisible(
  dl: { list(filter: string, limit?: number): Promise<DeadLetterView[]> },
  o: { channel?: string; tenant?: string; tenants?: readonly string[] },
  limit = 1000,
): Promise<DeadLetterView[]> {
  if (o.tenant || !o.tenants) return dl.list(dlqFilter(o.channel, o.tenant), limit);
  const each = await Promise.all(o.tenants.map((t) => dl.list(dlqFilter(o.channel, t), limit)));
  return each
    .flat()
    .sort((a, b) => a.seq - b.seq)
    .slice(0, limit);
}

export interface RedriveResult {
  seq: number;
  kind: string;
  id: string;
  subject: string;
  duplicate: boolean;
}

/** The message a redrive publishes: the original bytes on the original subject, a fresh Nats-Msg-Id. */
export function redriveMessage(stored: StoredDeadLetter): {
  message: OutboundMessage;
  kind: string;
  id: string;
} {
  const b = body(stored);
  if (!b.data || !b.source?.subject) {
    throw new ValidationError(`dead letter ${stored.seq} has no original message to redrive`, [
      { path: `seq ${stored.seq}`, message: `reason ${b.reason ?? 'unknown'}; drop it instead` },
    ]);
  }
  if (b.kind === 'action') {
    const action = parseAction(b.data);
    const msgId = `${action.id}.redrive.${stored.seq}`;
    return {
      kind: 'action',
      id: action.id,
      message: {
        subject: b.source.subject,
        data: b.data,
        msgId,
        headers: {
          [HDR_MSG_ID]: msgId,
          [HDR_CONTENT_TYPE]: CONTENT_TYPE_MSGPACK,
          [HDR_TYPE]: 'action',
          [HDR_TENANT]: action.tenant,
          [HDR_CONVERSATION]: action.conversation,
          [HDR_ACTION_ID]: action.id,
          [HDR_REDRIVE]: String(stored.seq),
        },
      },
    };
  }
  // An event dead letter: back onto its partition subject; the actor treats it as a new delivery. Its
  // readable headers are the original message's (a JSON event stays JSON: the DLQ record's own Content-Type
  // describes the record, not the event); without recorded headers the body is sniffed, as ingest does.
  const msgId = `dlq.events.${b.source.seq}.redrive.${stored.seq}`;
  const original = b.headers
    ? Object.fromEntries(
        [HDR_CONTENT_TYPE, HDR_TYPE, HDR_TRACE_ID].flatMap((h) =>
          typeof b.headers![h] === 'string' ? [[h, b.headers![h]!]] : [],
        ),
      )
    : {
        [HDR_CONTENT_TYPE]:
          b.data[0] === 0x7b || b.data[0] === 0x5b ? CONTENT_TYPE_JSON : CONTENT_TYPE_MSGPACK,
      };
  return {
    kind: b.kind ?? 'event',
    id: msgId,
    message: {
      subject: b.source.subject,
      data: b.data,
      msgId,
      headers: { ...original, [HDR_MSG_ID]: msgId },
    },
  };
}

export class DeadLetters {
  readonly #store: DeadLetterStore;
  readonly #publisher: Publisher;
  readonly #now: () => number;

  constructor(store: DeadLetterStore, publisher: Publisher, now: () => number = Date.now) {
    this.#store = store;
    this.#publisher = publisher;
    this.#now = now;
  }

  async list(filter: string, limit = 1000): Promise<DeadLetterView[]> {
    return (await this.#store.list(filter, limit)).map((d) => viewDeadLetter(d));
  }

  async show(seq: number): Promise<DeadLetterView | undefined> {
    const stored = await this.#store.get(seq);
    return stored ? viewDeadLetter(stored, true) : undefined;
  }

  async #required(seq: number): Promise<StoredDeadLetter> {
    const stored = await this.#store.get(seq);
    if (!stored)
      throw new ValidationError(`no dead letter ${seq}`, [
        { path: 'seq', message: `${seq} is not in the DLQ` },
      ]);
    return stored;
  }

  /** Republishes a dead letter (keeping its action ID), records the redrive, then removes it from the DLQ. */
  async redrive(seq: number, operator: string): Promise<RedriveResult> {
    const stored = await this.#required(seq);
    const { message, kind, id } = redriveMessage(stored);
    const ack = await this.#publisher.publish(message);
    if (kind === 'action') {
      const action = parseAction(body(stored).data!);
      await this.#publisher.publish(
        auditRecord(
          'redrive',
          action,
          { operator, dlqSeq: seq, reason: viewDeadLetter(stored).reason },
          this.#now(),
          seq,
        ),
      );
    }
    await this.#store.delete(seq);
    return { seq, kind, id, subject: message.subject, duplicate: ack.duplicate };
  }

  /** Removes a dead letter for good (recorded in AUDIT for actions). */
  async drop(seq: number, operator: string): Promise<DeadLetterView> {
    const stored = await this.#required(seq);
    const view = viewDeadLetter(stored);
    const b = body(stored);
    if (b.kind === 'action' && b.data) {
      const action = parseAction(b.data);
      await this.#publisher.publish(
        auditRecord('dlq-drop', action, { operator, dlqSeq: seq, reason: view.reason }, this.#now(), seq),
      );
    }
    await this.#store.delete(seq);
    return view;
  }
}
