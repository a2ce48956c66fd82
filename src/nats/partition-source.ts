/**
 * Partition consumers with ack-floor recovery, on EVENTS (`actors-pNN`, filter evt.<n>.>) and on ACTIONS
 * (`connectors-pNN`, filter act.<n>.>). Opening a partition deletes and recreates its durable pull
 * consumer starting at the old consumer's ack floor + 1, so a new owner receives the unacked tail in
 * stream order instead of JetStream's AckWait redeliveries interleaved with newer messages (and the old
 * owner's subscription ends with its consumer). Already-applied messages in that tail are skipped: events
 * by the actors' per-conversation sequence check, actions by their execution records. Verified on
 * nats-server 2.9.10.
 */

import { AckPolicy, type ConsumerInfo, type ConsumerMessages, DeliverPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { actorsConsumerName, STREAMS } from '../contracts/names.js';
import type { PartitionConsumer, PartitionSource } from '../contracts/ports.js';
import type { Logger } from '../obs/logger.js';
import type { NatsHandles } from './connection.js';
import { isConsumerNotFound } from './errors.js';
import { JsInbound } from './js-inbound.js';

export const EVENTS_STREAM = STREAMS.events;

export const partitionConsumerName = actorsConsumerName;

export interface PartitionSourceOptions {
  /** Stream and naming; default: EVENTS, `actors-pNN`, `evt.<n>.>`. */
  stream?: string;
  consumerName?: (partition: number) => string;
  filterSubject?: (partition: number) => string;
  description?: (partition: number) => string;
  ackWaitMs: number;
  pullBatch: number;
  /** Bound on unacked messages per partition on the server side. */
  maxAckPending: number;
  /** Where the client's consumer notifications go (missed heartbeats, re-pulls after a reset, not found). */
  log?: Logger;
  /** Server heartbeat interval of a pending pull (default 5 s; a pull expires after two). */
  idleHeartbeatMs?: number;
  /**
   * A consumer waiting for messages this long with nothing delivered asks the server whether messages are
   * pending; pending on two checks in a row means its pull was lost beyond the client's own recovery, and
   * its iterator fails so the partition is acquired afresh (default 15 s).
   */
  stallCheckMs?: number;
}

/** Longest stop() waits for the client to close the consumer's subscription. */
const CLOSE_TIMEOUT_MS = 5_000;

/** Notifications worth an operator's attention: the client lost or re-established its pull. */
const LOGGED_NOTIFICATIONS = new Set([
  'heartbeats_missed',
  'consumer_not_found',
  'stream_not_found',
  'consumer_deleted',
  'exceeded_limits',
  'no_responders',
  'reset',
]);

/** Where delivery must resume: the first stream sequence not known to be acked. */
export function resumeSequence(info: ConsumerInfo | undefined): number {
  if (!info) return 1;
  const floor = info.ack_floor.stream_seq;
  if (floor > 0) return floor + 1;
  // Nothing acked yet: resume where the old consumer itself started.
  return info.config.deliver_policy === DeliverPolicy.StartSequence ? (info.config.opt_start_seq ?? 1) : 1;
}

export class NatsPartitionSource implements PartitionSource {
  readonly #h: NatsHandles;
  readonly #o: PartitionSourceOptions;

  constructor(handles: NatsHandles, options: PartitionSourceOptions) {
    this.#h = handles;
    this.#o = options;
  }

  async open(partition: number): Promise<PartitionConsumer> {
    const { jsm, js } = this.#h;
    const o = this.#o;
    const stream = o.stream ?? EVENTS_STREAM;
    const name = (o.consumerName ?? partitionConsumerName)(partition);
    let info: ConsumerInfo | undefined;
    try {
      info = await jsm.consumers.info(stream, name);
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
    }
    const start = resumeSequence(info);
    if (info)
      await jsm.consumers.delete(stream, name).catch((err) => {
        if (!isConsumerNotFound(err)) throw err;
      });
    // Read after the old consumer is gone: nothing past this sequence was ever delivered to anyone, so a
    // message beyond it is seen here first (no earlier owner can have acted on it).
    const recoveredThrough = (await jsm.streams.info(stream)).state.last_seq;
    await jsm.consumers.add(stream, {
      durable_name: name,
      description: o.description?.(partition) ?? `Parley conversation actors, partition ${partition}`,
      filter_subject: o.filterSubject?.(partition) ?? `evt.${partition}.>`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#o.ackWaitMs),
      max_ack_pending: this.#o.maxAckPending,
      max_deliver: -1,
      ...(start > 1
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start }
        : { deliver_policy: DeliverPolicy.All }),
    });
    const consumer = await js.consumers.get(stream, name);
    const heartbeatMs = o.idleHeartbeatMs ?? 5_000;
    const messages: ConsumerMessages = await consumer.consume({
      max_messages: this.#o.pullBatch,
      expires: heartbeatMs * 2,
      idle_heartbeat: heartbeatMs,
      abort_on_missing_resource: true,
    });
    // Liveness from the server's point of view, independent of the client's reset machinery: nats.js 3.4
    // re-pulls after two missed heartbeats, but after a cluster node loss on 2.9.10 it was seen never to pull
    // again (no waiting pull on the server, messages pending, the partition idle for minutes while its lease
    // renewed). Only while the stage waits for a message (not while it holds the iterator back) is it checked.
    /** When the stage last asked for a message it has not received yet (undefined while it holds one). */
    let waitingSince: number | undefined;
    let suspect = 0;
    let checking = false;
    const log = o.log;
    void (async () => {
      for await (const n of messages.status()) {
        if (LOGGED_NOTIFICATIONS.has(n.type))
          log?.warn({ stream, consumer: name, partition, notification: n }, `consumer ${n.type}`);
      }
    })().catch(() => undefined);
    const stallMs = o.stallCheckMs ?? 15_000;
    const watchdog = setInterval(
      () => {
        if (waitingSince === undefined || checking) return;
        const idleMs = Date.now() - waitingSince;
        if (idleMs < stallMs) {
          suspect = 0;
          return;
        }
        checking = true;
        jsm.consumers
          .info(stream, name)
          .then((now) => {
            if (waitingSince === undefined || Date.now() - waitingSince < stallMs) {
              suspect = 0;
              return;
            }
            suspect = now.num_pending > 0 ? suspect + 1 : 0;
            if (suspect < 2) return;
            clearInterval(watchdog);
            log?.warn(
              {
                stream,
                consumer: name,
                partition,
                idleMs,
                pending: now.num_pending,
                waitingPulls: now.num_waiting,
              },
              'partition consumer stalled: messages pending on the server, none delivered; reopening the partition',
            );
            messages.stop(new Error(`consumer ${name} stalled (${now.num_pending} pending, none delivered)`));
          })
          .catch(() => undefined) // the server is unreachable: the client's reconnect handles that
          .finally(() => {
            checking = false;
          });
      },
      Math.max(1_000, Math.floor(stallMs / 3)),
    );
    watchdog.unref();
    return {
      async *messages() {
        try {
          waitingSince = Date.now();
          for await (const m of messages) {
            waitingSince = undefined;
            yield new JsInbound(m, recoveredThrough);
            waitingSince = Date.now();
          }
        } finally {
          clearInterval(watchdog);
        }
      },
      async stop() {
        clearInterval(watchdog);
        // Bounded: close() drains the subscription, which waits on a server that may have gone away.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          messages.close().catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
            timer.unref?.();
          }),
        ]);
        clearTimeout(timer);
      },
    };
  }
}
