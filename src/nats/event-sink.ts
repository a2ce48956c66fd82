/**
 * EventSink over JetStream: each event is published to `ingest.<tenant>.<conversation>.<type>` (the server
 * maps it to its partition) with Nats-Msg-Id = its tenant-scoped dedupe key and the readable headers, all
 * issued at once and awaited together (faster than a window of in-flight requests on this client).
 *
 * What must stay true: success only when every PubAck arrived. Disconnected, timed out, no stream answering:
 * RetryableError (the API's 503), and a retry with the same ids is deduplicated by the stream.
 */
import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { HDR_MSG_ID } from '../contracts/headers.js';
import { encodeEvent, eventHeaders, ingestSubject } from '../envelope/event-message.js';
import { AppError, errorMessage, RetryableError } from '../errors/app-error.js';
import type { EventSink, PreparedEvent, StoredEvent } from '../http/ports.js';
import type { ConnectionWatch } from './connection-watch.js';
import { isTimeout } from './errors.js';

export class NatsEventSink implements EventSink {
  readonly #js: JetStreamClient;
  readonly #watch: ConnectionWatch;

  constructor(js: JetStreamClient, watch: ConnectionWatch) {
    this.#js = js;
    this.#watch = watch;
  }

  async publish(events: readonly PreparedEvent[], options: { timeoutMs: number }): Promise<StoredEvent[]> {
    if (!this.#watch.connected) {
      throw new RetryableError('NATS is not connected', { code: 'NATS_UNAVAILABLE' });
    }
    const pending = events.map(({ envelope, msgId }) => {
      const h = headers();
      for (const [k, v] of Object.entries(eventHeaders(envelope))) h.set(k, v);
      h.set(HDR_MSG_ID, msgId);
      return this.#js.publish(ingestSubject(envelope), encodeEvent(envelope), {
        msgID: msgId,
        headers: h,
        timeout: options.timeoutMs,
      });
    });
    try {
      const acks = await Promise.all(pending);
      return acks.map((a) => ({ seq: a.seq, duplicate: a.duplicate }));
    } catch (err) {
      if (err instanceof JetStreamApiError) {
        throw new AppError(`EVENTS refused the event: ${err.message}`, {
          code: 'PUBLISH_REJECTED',
          cause: err,
        });
      }
      const what = isTimeout(err) ? `no acknowledgement within ${options.timeoutMs} ms` : errorMessage(err);
      throw new RetryableError(`NATS did not store the events (${what})`, {
        code: 'NATS_UNAVAILABLE',
        cause: err,
      });
    }
  }
}
