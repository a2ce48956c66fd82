/**
 * Publisher over JetStream: one request per message with Nats-Msg-Id for dedupe; the PubAck says the
 * stream stored it (or already had it: `duplicate`).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { OutboundMessage, Publisher, PublishResult } from '../contracts/ports.js';

export class JetStreamPublisher implements Publisher {
  readonly #js: JetStreamClient;
  readonly #timeoutMs: number;

  constructor(js: JetStreamClient, timeoutMs = 10_000) {
    this.#js = js;
    this.#timeoutMs = timeoutMs;
  }

  async publish(message: OutboundMessage): Promise<PublishResult> {
    const h = headers();
    for (const [k, v] of Object.entries(message.headers)) h.set(k, v);
    const ack = await this.#js.publish(message.subject, message.data, {
      msgID: message.msgId,
      headers: h,
      timeout: this.#timeoutMs,
    });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }
}
