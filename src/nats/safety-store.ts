/**
 * SafetyStore over NATS for the operator functions in src/ops/safety-ops.ts: ESCALATIONS read with an
 * ordered consumer filtered to a tenant or conversation (bounded by maxScan and a deadline), parley-control
 * and parley-consent as JSON KV entries, events published to the ingest subject with their id as
 * Nats-Msg-Id (and one read back by sequence: the resolution that won), and operator records on `audit.operator.<tenant>.<conversation>`.
 */

import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { headers } from '@nats-io/transport-node';
import { SCHEMA_VERSION } from '../contracts/envelope.js';
import {
  CONTENT_TYPE_MSGPACK,
  HDR_CONTENT_TYPE,
  HDR_CONVERSATION,
  HDR_MSG_ID,
  HDR_TENANT,
  HDR_TYPE,
} from '../contracts/headers.js';
import { STREAMS } from '../contracts/names.js';
import { decodeBody, encode } from '../envelope/codec.js';
import { eventHeaders, ingestSubject, parseEventMessage } from '../envelope/event-message.js';
import type { EscalationMessage, SafetyStore } from '../ops/safety-ops.js';
import { CONSENT_BUCKET } from '../safety/consent.js';
import { CONTROL_BUCKET } from '../safety/control.js';
import type { NatsHandles } from './connection.js';
import { isStreamNotFound } from './errors.js';
import { JetStreamPublisher } from './js-publisher.js';
import { deploymentDedupeKey } from './provision.js';

export const ESCALATIONS_STREAM = STREAMS.escalations;

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

async function jsonEntry(kv: KV, key: string): Promise<Record<string, unknown> | undefined> {
  const e = await kv.get(key);
  if (e?.operation !== 'PUT' || e.length === 0) return undefined;
  return asObject(decodeBody(e.value));
}

export class NatsSafetyStore implements SafetyStore {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #control: KV;
  readonly #consent: KV;
  readonly #timeoutMs: number;
  readonly #h: NatsHandles;
  readonly #dedupeSecret: string | undefined;
  #events: Promise<JetStreamPublisher> | undefined;

  private constructor(
    h: NatsHandles,
    control: KV,
    consent: KV,
    timeoutMs: number,
    dedupeSecret: string | undefined,
  ) {
    this.#js = h.js;
    this.#jsm = h.jsm;
    this.#control = control;
    this.#consent = consent;
    this.#timeoutMs = timeoutMs;
    this.#h = h;
    this.#dedupeSecret = dedupeSecret;
  }

  /**
   * `dedupeSecret`: the configured runtime.dedupe.secret; without it, the deployment's own (read on the first
   * publish only). Operator events' ids are predictable (`resolve.<escalation>.open`), so they are published
   * under the keyed form (src/nats/js-publisher.ts): a direct NATS producer cannot pre-empt a resolution or a
   * consent change by publishing that id first.
   */
  static async open(
    h: NatsHandles,
    options: { timeoutMs?: number; dedupeSecret?: string | undefined } = {},
  ): Promise<NatsSafetyStore> {
    const [control, consent] = await Promise.all([h.kvm.open(CONTROL_BUCKET), h.kvm.open(CONSENT_BUCKET)]);
    return new NatsSafetyStore(h, control, consent, options.timeoutMs ?? 5000, options.dedupeSecret);
  }

  now(): number {
    return Date.now();
  }

  async escalations(f: {
    tenant?: string;
    conversation?: string;
    maxScan: number;
  }): Promise<EscalationMessage[]> {
    const filter = `esc.${f.tenant ?? '*'}.${f.conversation ?? '*'}`;
    let total: number;
    try {
      const info = await this.#jsm.streams.info(ESCALATIONS_STREAM, { subjects_filter: filter });
      total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    } catch (err) {
      if (isStreamNotFound(err)) return [];
      throw err;
    }
    if (total === 0) return [];
    const consumer = await this.#js.consumers.get(ESCALATIONS_STREAM, { filter_subjects: filter });
    const messages = await consumer.consume({ max_messages: Math.min(total, 256) });
    const timer = setTimeout(() => void messages.stop(), this.#timeoutMs);
    const out: EscalationMessage[] = [];
    try {
      for await (const m of messages) {
        const body = asObject(decodeBody(m.data, m.headers?.get(HDR_CONTENT_TYPE) || undefined));
        if (body)
          out.push({
            seq: m.seq,
            escalationId: String(body.escalationId ?? body.id),
            tenant: String(body.tenant),
            conversation: String(body.conversation),
            reason: String(body.reason),
            priority: String(body.priority),
            evidence: asObject(body.evidence) ?? {},
            ...(typeof body.suggestedNext === 'string' ? { suggestedNext: body.suggestedNext } : {}),
            at: String(body.at ?? m.time.toISOString()),
          });
        if (out.length > f.maxScan) out.shift();
        if (m.info.pending === 0) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.close().catch(() => {});
      // An ordered consumer is ephemeral but lingers for its inactive threshold (5 min): remove it now.
      await consumer.delete().catch(() => {});
    }
    return out;
  }

  readonly control = {
    get: (key: string) => jsonEntry(this.#control, key),
    put: async (key: string, value: Record<string, unknown>) => {
      await this.#control.put(key, JSON.stringify(value));
    },
    delete: async (key: string) => {
      await this.#control.delete(key);
    },
    list: async () => {
      const out: Array<{ key: string; value: Record<string, unknown> }> = [];
      for await (const key of await this.#control.keys()) {
        const value = await jsonEntry(this.#control, key);
        if (value) out.push({ key, value });
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    },
  };

  readonly consent = { get: (key: string) => jsonEntry(this.#consent, key) };

  async publishEvent(event: Parameters<SafetyStore['publishEvent']>[0]) {
    this.#events ??= deploymentDedupeKey(this.#h, this.#dedupeSecret).then(
      (eventKey) => new JetStreamPublisher(this.#js, undefined, { eventKey }),
    );
    return (await this.#events).publish({
      subject: ingestSubject(event),
      data: encode(event),
      msgId: event.id,
      headers: eventHeaders(event),
    });
  }

  async eventAt(seq: number) {
    const m = await this.#jsm.streams.getMessage(STREAMS.events, { seq });
    if (!m) return undefined;
    return parseEventMessage({
      subject: m.subject,
      data: m.data,
      header: (name) => m.header?.get(name) || undefined,
      seq: m.seq,
      timestampMs: m.time.getTime(),
    });
  }

  async audit(
    kind: string,
    tenant: string,
    conversation: string,
    record: Record<string, unknown>,
    auditId?: string,
  ): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const id = auditId ?? `${kind}.${tenant}.${conversation}.${this.now()}.${String(record.action ?? '')}`;
    const h = headers();
    h.set(HDR_MSG_ID, id);
    h.set(HDR_CONTENT_TYPE, CONTENT_TYPE_MSGPACK);
    h.set(HDR_TYPE, `audit.${kind}`);
    h.set(HDR_TENANT, tenant);
    h.set(HDR_CONVERSATION, conversation);
    await this.#js.publish(
      `audit.${kind}.${tenant}.${conversation}`,
      encode({ schema: SCHEMA_VERSION, id, kind, tenant, conversation, at, ...record }),
      { msgID: id, headers: h },
    );
  }
}
