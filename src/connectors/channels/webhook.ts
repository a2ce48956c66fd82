/**
 * Webhook channel: one signed HTTP POST per action, Standard Webhooks style (the contract in SPEC.md):
 * headers `webhook-id` (the action ID, identical across retries), `webhook-timestamp` (unix seconds) and
 * `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`); a JSON body with type,
 * tenant, conversation, rule, action, template, variables and the triggering event.
 *
 * Receivers dedupe on webhook-id (Standard Webhooks asks them to), so the channel reconciles as
 * `idempotency-key`: an action in flight when its sender died is sent again with the same webhook-id
 * (set `uncertain: dead-letter` on a tenant's webhook channel whose receiver does not dedupe).
 */
import { createHmac } from 'node:crypto';
import type { WebhookChannelConfig } from '../../config/connectors-schema.js';
import type { ActionMessage } from '../../contracts/action.js';
import type { ChannelAdapter, DeliveryEnvelope, SendContext, SendResult } from '../channel.js';
import { checkHttpAnswer, httpRequest } from './http.js';

const SECRET_PREFIX = 'whsec_';

/** The HMAC key of a secret: base64-decoded after `whsec_` (Standard Webhooks), else the UTF-8 bytes. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith(SECRET_PREFIX)
    ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', webhookKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** Where the send was decided: rule set version, A/B variant, journey step (no internal trigger seq). */
export function decisionOf(d: NonNullable<ActionMessage['decision']>): Record<string, unknown> {
  return {
    rulesVersion: d.rulesVersion,
    ...(d.variant ? { variant: d.variant } : {}),
    ...(d.journey ? { journey: d.journey } : {}),
  };
}

/** The delivery body: deterministic for an action (no attempt counter), so retries carry the same bytes. */
export function webhookBody(action: ActionMessage): string {
  return JSON.stringify({
    type: 'action',
    tenant: action.tenant,
    conversation: action.conversation,
    rule: action.rule,
    action: action.id,
    channel: action.channel,
    template: action.template,
    variables: action.variables,
    event: { id: action.event.id, type: action.event.type, attributes: action.event.attributes },
    ...(action.digest ? { digest: action.digest } : {}),
    ...(action.decision ? { decision: decisionOf(action.decision) } : {}),
    decidedAt: action.decidedAt,
  });
}

export class WebhookAdapter implements ChannelAdapter<WebhookChannelConfig> {
  readonly channel = 'webhook';
  readonly reconcile = 'idempotency-key' as const;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async send(envelope: DeliveryEnvelope<WebhookChannelConfig>, ctx: SendContext): Promise<SendResult> {
    const { config, id, action } = envelope;
    const body = webhookBody(action);
    const timestamp = Math.floor(this.#now() / 1000);
    const answer = await httpRequest('POST', config.url, ctx, {
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(config.secret, id, timestamp, body),
        'user-agent': 'parley-webhooks/1',
      },
      body,
    });
    checkHttpAnswer(`webhook ${config.url}`, answer);
    const answered = answer.body as { id?: unknown } | undefined;
    const deliveryId = typeof answered?.id === 'string' ? answered.id : `${id}@${answer.status}`;
    return { deliveryId, status: 'delivered' };
  }
}
