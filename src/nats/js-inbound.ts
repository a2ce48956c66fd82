/**
 * The runtime's InboundMessage over a JetStream message: the one adapter every consumer (partition actors,
 * connectors) hands out, so nothing outside src/nats sees a JsMsg.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { InboundMessage } from '../contracts/ports.js';

export class JsInbound implements InboundMessage {
  readonly #m: JsMsg;
  readonly seq: number;
  readonly recovered: boolean;

  /** `recoveredThrough`: the stream's last sequence when the consumer was (re)created (0: none recovered). */
  constructor(m: JsMsg, recoveredThrough = 0) {
    this.#m = m;
    this.seq = m.seq;
    this.recovered = m.seq <= recoveredThrough;
  }

  get subject(): string {
    return this.#m.subject;
  }

  get data(): Uint8Array {
    return this.#m.data;
  }

  get timestampMs(): number {
    return Math.floor(this.#m.info.timestampNanos / 1_000_000);
  }

  get consumerSeq(): number {
    return this.#m.info.deliverySequence;
  }

  get deliveryCount(): number {
    return this.#m.info.deliveryCount;
  }

  header(name: string): string | undefined {
    const h = this.#m.headers;
    return h?.has(name) ? h.get(name) : undefined;
  }

  ack(): void {
    this.#m.ack();
  }

  nak(delayMs?: number): void {
    this.#m.nak(delayMs);
  }

  working(): void {
    this.#m.working();
  }
}
