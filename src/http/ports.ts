/**
 * What the HTTP app needs from the outside world, as interfaces. Implementations live in src/nats/ (the only
 * code that imports the NATS client); tests of the app pass small in-process fakes through buildApp(deps).
 */
import type { EventEnvelope } from '../envelope/envelope.js';

/** One event ready to publish: the validated envelope and its stream-wide dedupe key (Nats-Msg-Id). */
export interface PreparedEvent {
  envelope: EventEnvelope;
  msgId: string;
}

export interface StoredEvent {
  /** EVENTS stream sequence; for a duplicate, the sequence of the original. */
  seq: number;
  duplicate: boolean;
}

export interface EventSink {
  /**
   * Publishes events in order and resolves once the stream has acknowledged every one of them. Rejects with
   * RetryableError when NATS is unreachable or does not acknowledge within `timeoutMs`; some events may then
   * be stored already, which is safe: a retry with the same ids is deduplicated.
   */
  publish(events: readonly PreparedEvent[], options: { timeoutMs: number }): Promise<StoredEvent[]>;
}

export interface ReplayGuard {
  /**
   * Records `key` for `tenant` and resolves true the first time; false when it was claimed before (by any
   * process, for as long as the guard keeps keys). Rejects with RetryableError when the store is unavailable.
   */
  claim(tenant: string, key: string): Promise<boolean>;
}

export interface StoredConversation {
  /** Last EVENTS sequence the actor applied. */
  seq: number;
  state: unknown;
}

/** One record of the decision trail (the AUDIT stream), newest last. */
export interface TrailEntry {
  seq: number;
  kind: string;
  time: string;
  record: unknown;
}

export interface ConversationReader {
  read(tenant: string, conversation: string): Promise<StoredConversation | undefined>;
  /** The most recent decision records, at most `limit`, oldest first. */
  trail(tenant: string, conversation: string, limit: number): Promise<TrailEntry[]>;
}

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface ReadinessProbe {
  check(): Promise<ReadinessCheck[]>;
}
