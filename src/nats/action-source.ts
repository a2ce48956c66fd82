/**
 * The connector stage's consumers on ACTIONS: one durable pull consumer per partition,
 * `connectors-pNN` with filter `act.<n>.>`, opened by the partition's owner together with its EVENTS
 * consumer (same lease) and recreated from the ack floor on every acquisition, like the actors' (see
 * partition-source.ts). Explicit ack, max_ack_pending as the per-partition in-flight bound, max_deliver
 * unlimited (the dispatcher dead-letters after its own limits, with the last error).
 */
import { connectorsConsumerName, STREAMS } from '../contracts/names.js';
import type { Logger } from '../obs/logger.js';
import type { NatsHandles } from './connection.js';
import { NatsPartitionSource } from './partition-source.js';

export const ACTIONS_STREAM = STREAMS.actions;

export const connectorConsumerName = connectorsConsumerName;

export interface ActionSourceOptions {
  ackWaitMs: number;
  maxAckPending: number;
  pullBatch: number;
  log?: Logger;
}

export function natsActionSource(handles: NatsHandles, options: ActionSourceOptions): NatsPartitionSource {
  return new NatsPartitionSource(handles, {
    stream: ACTIONS_STREAM,
    consumerName: connectorConsumerName,
    filterSubject: (p) => `act.${p}.>`,
    description: (p) => `Parley connectors, partition ${p}`,
    ackWaitMs: options.ackWaitMs,
    pullBatch: Math.min(options.pullBatch, options.maxAckPending),
    maxAckPending: options.maxAckPending,
    ...(options.log ? { log: options.log } : {}),
  });
}
