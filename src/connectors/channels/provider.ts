/**
 * The JSON-over-HTTP provider channels: platform DM (the shape of a social platform's messaging API),
 * push and in-app inbox. Each is one POST with `Idempotency-Key: <action ID>`, so a resend after a crash is
 * deduplicated by the provider (reconcile `idempotency-key`); the DM API can also be asked for a delivery
 * by ID or by idempotency key. The three differ only in path and body, so they share this one adapter.
 * Request shapes are those of the simulated platform (src/sim/sim-platform.ts); a real provider gets its
 * own small body/path function here.
 */
import type { ProviderChannelConfig } from '../../config/connectors-schema.js';
import type { ActionMessage } from '../../contracts/action.js';
import type {
  ChannelAdapter,
  DeliveryEnvelope,
  DeliveryStatus,
  SendContext,
  SendResult,
} from '../channel.js';
import { checkHttpAnswer, httpRequest, postJson } from './http.js';

interface ProviderShape {
  channel: string;
  /** Path of the send endpoint below the configured base URL. */
  sendPath(account: string): string;
  body(action: ActionMessage): unknown;
  /** Path to look a delivery up by ID; absent when the provider has no lookup. */
  statusPath?(account: string, deliveryId: string): string;
  lookupPath?(account: string, idempotencyKey: string): string;
}

function recipient(action: ActionMessage, key: string): unknown {
  return action.variables[key] ?? action.conversation;
}

export const PLATFORM_DM: ProviderShape = {
  channel: 'platform-dm',
  sendPath: (account) => `/v1/accounts/${account}/messages`,
  body: (a) => ({
    recipient: recipient(a, 'recipient'),
    template: a.template,
    variables: a.variables,
    metadata: { tenant: a.tenant, conversation: a.conversation, rule: a.rule, action: a.id },
  }),
  statusPath: (account, id) => `/v1/accounts/${account}/messages/${encodeURIComponent(id)}`,
  lookupPath: (account, key) => `/v1/accounts/${account}/messages?idempotency_key=${encodeURIComponent(key)}`,
};

export const PUSH: ProviderShape = {
  channel: 'push',
  sendPath: (account) => `/v1/push/${account}/send`,
  body: (a) => ({
    to: recipient(a, 'deviceToken'),
    notification: { template: a.template, variables: a.variables },
    data: { tenant: a.tenant, conversation: a.conversation, action: a.id },
  }),
};

export const IN_APP: ProviderShape = {
  channel: 'in-app',
  sendPath: (account) => `/v1/inbox/${account}/messages`,
  body: (a) => ({
    user: recipient(a, 'user'),
    template: a.template,
    variables: a.variables,
    data: { tenant: a.tenant, conversation: a.conversation, action: a.id },
  }),
};

function base(url: string): string {
  return url.replace(/\/+$/, '');
}

export class ProviderAdapter implements ChannelAdapter<ProviderChannelConfig> {
  readonly channel: string;
  readonly reconcile = 'idempotency-key' as const;
  readonly #shape: ProviderShape;

  constructor(shape: ProviderShape) {
    this.#shape = shape;
    this.channel = shape.channel;
  }

  #headers(config: ProviderChannelConfig): Record<string, string> {
    return config.token ? { authorization: `Bearer ${config.token}` } : {};
  }

  async send(envelope: DeliveryEnvelope<ProviderChannelConfig>, ctx: SendContext): Promise<SendResult> {
    const { config, action, id } = envelope;
    const account = config.account ?? action.tenant;
    const url = base(config.url) + this.#shape.sendPath(account);
    const answer = await postJson(url, this.#shape.body(action), ctx, {
      ...this.#headers(config),
      'idempotency-key': id,
    });
    checkHttpAnswer(`${this.channel} ${url}`, answer);
    const body = answer.body as { id?: unknown; status?: unknown } | undefined;
    return {
      deliveryId: typeof body?.id === 'string' ? body.id : id,
      status: body?.status === 'accepted' ? 'accepted' : 'delivered',
    };
  }

  async status(
    ref: { deliveryId?: string; actionId: string; config: ProviderChannelConfig },
    ctx: SendContext,
  ): Promise<DeliveryStatus> {
    const account = ref.config.account ?? ref.actionId.split('.')[0]!;
    const path = ref.deliveryId
      ? this.#shape.statusPath?.(account, ref.deliveryId)
      : this.#shape.lookupPath?.(account, ref.actionId);
    if (!path) return { state: 'unknown' };
    const answer = await httpRequest('GET', base(ref.config.url) + path, ctx, {
      headers: this.#headers(ref.config),
    });
    if (answer.status === 404) return { state: 'not_found' };
    checkHttpAnswer(`${this.channel} status`, answer);
    const body = answer.body as { id?: unknown; status?: unknown } | undefined;
    if (typeof body?.id !== 'string') return { state: 'unknown' };
    return { state: body.status === 'accepted' ? 'accepted' : 'delivered', deliveryId: body.id };
  }
}
