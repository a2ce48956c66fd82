/**
 * The interfaces the runtime and the connectors talk to. Implementations live in src/nats/ (the only code
 * that imports the NATS client); tests of pure pieces can use small in-process ones, integration tests use
 * the real ones.
 */
import type { EventEnvelope } from './envelope.js';

/** One message from a partition consumer. */
export interface InboundMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly timestampMs: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /**
   * The consumer's delivery sequence (every delivery, redeliveries included, numbered 1, 2, 3, ...); a gap
   * means deliveries of this consumer went to another subscriber. Absent where the source has none.
   */
  readonly consumerSeq?: number;
  /**
   * Delivered in the recovery prefix of a (re)created consumer: the message was in the stream before this
   * owner opened the partition, so an earlier owner may have processed it (ARCHITECTURE.md, "first sight").
   * Absent (false) where the source cannot tell: then only `deliveryCount` says so.
   */
  readonly recovered?: boolean;
  header(name: string): string | undefined;
  ack(): void;
  nak(delayMs?: number): void;
  /** Extends the ack deadline while a step is still being worked on. */
  working(): void;
}

export interface PartitionConsumer {
  /** Messages of the partition in stream order, starting after the consumer's ack floor. */
  messages(): AsyncIterable<InboundMessage>;
  /** Stops pulling. Messages not yet handed out are not acked and will be redelivered to the next owner. */
  stop(): Promise<void>;
}

export interface PartitionSource {
  /**
   * Opens a partition for exclusive processing: (re)creates its durable consumer so delivery restarts in
   * order right after the ack floor (see ARCHITECTURE.md, "ack-floor recovery").
   */
  open(partition: number): Promise<PartitionConsumer>;
}

/**
 * A second stage run on a partition by its owner, under the same lease (the connector stage on ACTIONS):
 * started after the partition is acquired, stopped before its lease is released, fenced with it.
 */
export interface PartitionStage {
  start(consumer: PartitionConsumer): void;
  /** Graceful: stop pulling, finish what is in progress (bounded), leave the rest unacked. */
  stop(drainMs: number): Promise<void>;
  /** Another owner exists: stop at once, ack nothing more. */
  fence(): void;
}

export interface PartitionStageFactory {
  source: PartitionSource;
  /**
   * `ownership()` is the partition lease's status, asked before every send; `fail(reason)` stops the whole
   * partition (fenced: its lease is abandoned and the partition is acquired afresh, from the ack floors).
   */
  create(
    partition: number,
    ownership: () => 'owned' | 'unsure' | 'lost',
    fail: (reason: string) => void,
  ): PartitionStage;
}

export interface Versioned<T> {
  value: T | undefined;
  /** KV revision; 0 when the key has never been written. */
  revision: number;
}

/** Compare-and-set key/value storage. */
export interface VersionedStore<T> {
  load(key: string): Promise<Versioned<T>>;
  /** Writes if the stored revision is still `revision`; returns the new one. Throws FencedError if not. */
  save(key: string, value: T, revision: number): Promise<number>;
}

export interface OutboundMessage {
  subject: string;
  data: Uint8Array;
  /** Nats-Msg-Id: deterministic, so a republish lands in the duplicate window. */
  msgId: string;
  headers: Record<string, string>;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

export interface Publisher {
  publish(message: OutboundMessage): Promise<PublishResult>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A partition lease as its holder sees it: commit while `owned`, wait while `unsure`, stop once `lost`. */
export type LeaseStatus = 'owned' | 'unsure' | 'lost';

/** The process-wide bound on delivered-but-unacked messages (src/runtime/in-flight.ts). */
export interface AdmissionGate {
  /** Undefined when a slot is free now (taken); else a promise resolved when one is (taken). */
  acquire(): Promise<void> | undefined;
  release(n?: number): void;
  /** Slots taken (for diagnostics). */
  readonly count?: number;
}

/**
 * Why a delivery cannot be processed in order: its consumer sequence is not the next one, so deliveries of
 * this consumer went to another subscriber. Undefined when in order (or the source has no sequence).
 */
export function deliveryGap(last: number, next: number | undefined): string | undefined {
  if (next === undefined || next === last + 1) return undefined;
  return `consumer deliveries ${last + 1}-${next - 1} went to another subscriber (a previous owner still pulling)`;
}

/** An event read back from EVENTS (replay, history). */
export interface StoredEvent {
  seq: number;
  timestampMs: number;
  event: EventEnvelope;
  /** Written by the engine itself (timer wake-ups, detector signals): re-derived by a replay, not replayed. */
  derived: boolean;
}
