/**
 * Publisher over JetStream: one request per message with Nats-Msg-Id for dedupe; the PubAck says the
 * stream stored it (or already had it: `duplicate`).
 *
 * With `eventKey`, a message bound for EVENTS (subject `ingest.<tenant>.…`: emitted events, timer wakes,
 * connector outcomes, redriven events) is published under the keyed form of its id (src/envelope/
 * dedupe-key.ts): those ids are deterministic and predictable (`<tenant>.<conversation>.<seq>.<index>`), and
 * JetStream dedupes across the whole stream, so a direct NATS producer that published one first would have
 * the engine's own message dropped as a duplicate. Keyed, it cannot. The body's id is untouched (the actors
 * dedupe on it). Other streams take no producer traffic and keep the plain id.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { HDR_MSG_ID } from '../contracts/headers.js';
import type { OutboundMessage, Publisher, PublishResult } from '../contracts/ports.js';
import type { DedupeKey } from '../envelope/dedupe-key.js';

/** The Nats-Msg-Id a message is published with: keyed when it goes to EVENTS and a key is given. */
export function publishedMsgId(subject: string, msgId: string, eventKey: DedupeKey | undefined): string {
  if (!eventKey || !subject.startsWith('ingest.')) return msgId;
  const tenant = subject.split('.', 2)[1] ?? '';
  return eventKey(tenant, msgId);
}

export class JetStreamPublisher implements Publisher {
  readonly #js: JetStreamClient;
  readonly #timeoutMs: number;
  readonly #eventKey: DedupeKey | undefined;

  constructor(js: JetStreamClient, timeoutMs = 10_000, options: { eventKey?: DedupeKey } = {}) {
    this.#js = js;
    this.#timeoutMs = timeoutMs;
    this.#eventKey = options.eventKey;
  }

  async publish(message: OutboundMessage): Promise<PublishResult> {
    const msgId = publishedMsgId(message.subject, message.msgId, this.#eventKey);
    const h = headers();
    for (const [k, v] of Object.entries(message.headers)) h.set(k, v);
    if (msgId !== message.msgId) h.set(HDR_MSG_ID, msgId);
    const ack = await this.#js.publish(message.subject, message.data, {
      msgID: msgId,
      headers: h,
      timeout: this.#timeoutMs,
    });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }
}
