/**
 * Whether a NATS connection is up right now, from its status events. The ingest API answers 503 at once
 * while the client is disconnected instead of letting publishes queue in the client's reconnect buffer.
 */
import type { NatsConnection } from '@nats-io/transport-node';

export class ConnectionWatch {
  readonly #nc: NatsConnection;
  #connected = true;
  #lastError: string | undefined;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    void this.#watch();
  }

  async #watch(): Promise<void> {
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') this.#connected = false;
      else if (s.type === 'reconnect') this.#connected = true;
      else if (s.type === 'error')
        this.#lastError = s.error instanceof Error ? s.error.message : String(s.error);
    }
  }

  get connected(): boolean {
    return this.#connected && !this.#nc.isClosed();
  }

  /** The last asynchronous error the server reported (such as a permissions violation). */
  get lastError(): string | undefined {
    return this.#lastError;
  }
}
