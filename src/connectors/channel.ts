/**
 * The channel adapter contract. An adapter only speaks its protocol: it turns a DeliveryEnvelope into one
 * provider call and translates the answer at the edge (success -> a value; 429/5xx/timeouts ->
 * RetryableError with retryAfterMs; other permanent rejections -> TerminalError). Retry, backoff, timeouts,
 * rate limiting, idempotency records, metrics and logging belong to the runner, never to an adapter.
 */
import type { ActionMessage } from '../contracts/action.js';

/** What one send carries: the action plus the tenant's channel settings. */
export interface DeliveryEnvelope<C = unknown> {
  /** The action ID: idempotency key at the provider, webhook-id, Message-ID seed. Identical across retries. */
  id: string;
  action: ActionMessage;
  /** The tenant's settings for this channel (tenants.<id>.channels.<channel>). */
  config: C;
  /** 1 on the first try. */
  attempt: number;
}

export interface SendResult {
  /** The provider's ID for the delivery (message ID, response id, SMTP queue id). */
  deliveryId: string;
  status: 'delivered' | 'accepted';
}

export type DeliveryStatus =
  | { state: 'delivered' | 'accepted'; deliveryId: string }
  | { state: 'not_found' }
  | { state: 'unknown' };

export interface SendContext {
  /** Aborted when the runner's timeout fires. */
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * How a crash between claim and outcome is reconciled:
 * - `idempotency-key`: the provider dedupes by the action ID, so sending again is safe;
 * - `status`: `status()` can tell whether the provider has the delivery;
 * - `none`: nothing can tell; the action is dead-lettered as ambiguous instead of resent.
 */
export type Reconcile = 'idempotency-key' | 'status' | 'none';

export interface ChannelAdapter<C = unknown> {
  readonly channel: string;
  readonly reconcile: Reconcile;
  send(envelope: DeliveryEnvelope<C>, ctx: SendContext): Promise<SendResult>;
  /** Looks a delivery up by the provider's ID, or by the action ID when the ID was never recorded. */
  status?(
    ref: { deliveryId?: string; actionId: string; config: C },
    ctx: SendContext,
  ): Promise<DeliveryStatus>;
  close?(): Promise<void>;
}
