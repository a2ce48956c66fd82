/**
 * Named predicates over NATS client errors, so nobody else reads codes or message text.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { TimeoutError } from '@nats-io/transport-node';

function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

export function isConsumerNotFound(err: unknown): boolean {
  return apiCode(err) === JetStreamApiCodes.ConsumerNotFound;
}

export function isStreamNotFound(err: unknown): boolean {
  return apiCode(err) === JetStreamApiCodes.StreamNotFound;
}

/** A compare-and-set write lost: the key's last revision is not the one expected. */
export function isWrongLastSequence(err: unknown): boolean {
  const code = apiCode(err);
  return (
    code === JetStreamApiCodes.StreamWrongLastSequence ||
    code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
  );
}

export function isTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof Error && err.cause instanceof TimeoutError);
}
