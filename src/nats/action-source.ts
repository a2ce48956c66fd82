/**
 * Connector consumers on ACTIONS: one durable pull consumer per channel, `connector-<channel>` with filter
 * `act.<channel>.>`, explicit ack, max_ack_pending as the in-flight bound and max_deliver unlimited (the
 * runner dead-letters after its own limits, with the last error, instead of the server dropping silently).
 * Shared by every connector process of the channel.
 */
import { AckPolicy, type ConsumerMessages, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { ActionConsumer, ActionConsumerSource } from '../connectors/connector-runner.js';
import type { NatsHandles } from './connection.js';
import { isConsumerNotFound } from './errors.js';
import { JsInbound } from './js-inbound.js';

export const ACTIONS_STREAM = 'ACTIONS';

export function connectorConsumerName(channel: string): string {
  return `connector-${channel}`;
}

export interface ActionSourceOptions {
  ackWaitMs: number;
  maxAckPending: number;
  pullBatch: number;
}

export class NatsActionSource implements ActionConsumerSource {
  readonly #h: NatsHandles;
  readonly #o: ActionSourceOptions;

  constructor(handles: NatsHandles, options: ActionSourceOptions) {
    this.#h = handles;
    this.#o = options;
  }

  /** Creates the channel's consumer if missing, or updates its ack wait and in-flight bound. */
  async ensure(channel: string): Promise<void> {
    const { jsm } = this.#h;
    const name = connectorConsumerName(channel);
    const mutable = {
      description: `Parley ${channel} connector`,
      ack_wait: nanos(this.#o.ackWaitMs),
      max_ack_pending: this.#o.maxAckPending,
      max_deliver: -1,
    };
    try {
      const info = await jsm.consumers.info(ACTIONS_STREAM, name);
      const c = info.config;
      if (
        c.ack_wait !== mutable.ack_wait ||
        c.max_ack_pending !== mutable.max_ack_pending ||
        c.description !== mutable.description
      ) {
        await jsm.consumers.update(ACTIONS_STREAM, name, mutable);
      }
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
      await jsm.consumers.add(ACTIONS_STREAM, {
        ...mutable,
        durable_name: name,
        filter_subject: `act.${channel}.>`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    }
  }

  async open(channel: string): Promise<ActionConsumer> {
    await this.ensure(channel);
    const consumer = await this.#h.js.consumers.get(ACTIONS_STREAM, connectorConsumerName(channel));
    const messages: ConsumerMessages = await consumer.consume({
      max_messages: Math.min(this.#o.pullBatch, this.#o.maxAckPending),
    });
    return {
      async *messages() {
        for await (const m of messages) yield new JsInbound(m);
      },
      async stop() {
        await messages.close().catch(() => undefined);
      },
    };
  }
}
