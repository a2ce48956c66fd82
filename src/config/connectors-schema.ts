/**
 * parley.yaml schemas owned by the connectors: one strict schema per channel (`tenants.<id>.channels.<name>`),
 * the runner settings (`connectors`) and the simulated platform (`simPlatform`). Included by schema.ts.
 */
import { z } from 'zod';

const token = /^[A-Za-z0-9_-]+$/;

export const RateSchema = z
  .object({
    perSecond: z.number().positive().describe('Sustained sends per second for this (channel, account)'),
    burst: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Bucket capacity: sends allowed at once after a quiet period; default max(1, perSecond)'),
  })
  .strict()
  .describe('Token bucket shared by every connector process (parley-tokens KV); omit for no limit');

const account = z
  .string()
  .regex(token, 'letters, digits, - and _ only')
  .optional()
  .describe('Provider account the rate limit belongs to; default the tenant id');
const timeoutMs = z
  .number()
  .int()
  .min(1)
  .optional()
  .describe('Send timeout in ms; default connectors.sendTimeoutMs');
const httpUrl = z.url({ protocol: /^https?$/ });
const uncertain = z
  .enum(['resend', 'dead-letter'])
  .optional()
  .describe(
    'An action in flight when its sender died (crash, handover): "resend" with the same key (the receiver ' +
      'dedupes by webhook-id / Idempotency-Key), or "dead-letter" as ambiguous for an operator. Default: ' +
      'resend for webhook, platform-dm, push and in-app; dead-letter for email',
  );

export const WebhookChannelSchema = z
  .object({
    url: httpUrl.describe('Where deliveries are POSTed'),
    secret: z
      .string()
      .min(1)
      .describe(
        'Signing secret: "whsec_<base64>" (Standard Webhooks; the key is the decoded bytes) or any other string (its UTF-8 bytes)',
      ),
    rate: RateSchema.optional(),
    account,
    timeoutMs,
    uncertain,
  })
  .strict();

export const EmailChannelSchema = z
  .object({
    smtp: z
      .object({
        host: z.string().default('127.0.0.1').describe('SMTP server host'),
        port: z.number().int().min(1).max(65535).default(587).describe('SMTP server port'),
        secure: z
          .boolean()
          .default(false)
          .describe('TLS from the start (port 465); otherwise STARTTLS if offered'),
        user: z.string().optional().describe('SMTP user'),
        pass: z.string().optional().describe('SMTP password'),
        requireTls: z.boolean().default(false).describe('Refuse to send without STARTTLS'),
      })
      .strict()
      .describe('SMTP submission server'),
    from: z.string().min(3).describe('From address, e.g. "Acme <hello@acme.test>"'),
    to: z
      .string()
      .optional()
      .describe('Fallback recipient when the action has no variables.to and the event no attributes.email'),
    rate: RateSchema.optional(),
    account,
    timeoutMs,
    uncertain,
  })
  .strict();

/** Shape shared by the JSON-over-HTTP provider channels (platform DM, push, in-app). */
const providerFields = {
  url: httpUrl.describe('Base URL of the provider API (the simulated platform: http://127.0.0.1:9000)'),
  token: z.string().optional().describe('Bearer token sent to the provider'),
  rate: RateSchema.optional(),
  account,
  timeoutMs,
  uncertain,
};

export const PlatformDmChannelSchema = z.object(providerFields).strict();
export const PushChannelSchema = z.object(providerFields).strict();
export const InAppChannelSchema = z.object(providerFields).strict();

export const ChannelsSchema = z
  .object({
    webhook: WebhookChannelSchema.optional().describe('Standard Webhooks signed HTTP POST'),
    email: EmailChannelSchema.optional().describe('Email over SMTP'),
    'platform-dm': PlatformDmChannelSchema.optional().describe(
      'Direct message through a social platform API',
    ),
    push: PushChannelSchema.optional().describe('Mobile push through a push provider API'),
    'in-app': InAppChannelSchema.optional().describe('In-app inbox message through an inbox API'),
  })
  .strict()
  .describe('Channels this tenant sends through; an action for a channel not listed is dead-lettered');

export type ChannelName = keyof z.output<typeof ChannelsSchema>;
export const CHANNEL_NAMES = [
  'webhook',
  'email',
  'platform-dm',
  'push',
  'in-app',
] as const satisfies readonly ChannelName[];
export type RateConfig = z.output<typeof RateSchema>;
export type WebhookChannelConfig = z.output<typeof WebhookChannelSchema>;
export type EmailChannelConfig = z.output<typeof EmailChannelSchema>;
export type ProviderChannelConfig = z.output<typeof PlatformDmChannelSchema>;
export type ChannelsConfig = z.output<typeof ChannelsSchema>;

export const ConnectorsSchema = z
  .object({
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe(
        'Un-acked actions one partition holds (max_ack_pending of its connectors-pNN consumer); the process holds at most runtime.maxInFlight over all partitions',
      ),
    pullBatch: z.number().int().min(1).default(256).describe('Actions requested per pull'),
    ackWaitMs: z
      .number()
      .int()
      .min(1000)
      .default(30000)
      .describe(
        'AckWait of the connectors-pNN consumers; held actions are kept alive with working() every third of it',
      ),
    sendTimeoutMs: z.number().int().min(1).default(10000).describe('Default send timeout per channel call'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe('Send attempts (timeouts, 5xx, unknown errors) before an action is dead-lettered'),
    maxDeliveries: z
      .number()
      .int()
      .min(1)
      .default(500)
      .describe('Deliveries of one action (throttling and 429 included) before it is dead-lettered'),
    retryInitialMs: z.number().int().min(1).default(500).describe('First retry delay (doubles, with jitter)'),
    retryMaxMs: z.number().int().min(1).default(60000).describe('Longest retry delay'),
    maxThrottleWaitMs: z
      .number()
      .int()
      .min(0)
      .default(1000)
      .describe('A throttled action waits in place up to this long for a token; longer waits nak with delay'),
    tokenLeaseBatch: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe('Most tokens one compare-and-set leases from a shared bucket'),
    tokenLeaseTtlMs: z
      .number()
      .int()
      .min(1)
      .default(250)
      .describe('Leased tokens not used within this time expire (never carried into a later burst)'),
    laneCapacity: z
      .number()
      .int()
      .min(1)
      .default(256)
      .describe(
        'Actions one conversation may have waiting behind its head action (retrying or throttled) before its partition stops pulling actions',
      ),
    crashAt: z
      .enum(['claimed', 'sent', 'recorded'])
      .optional()
      .describe('TESTING ONLY: the process kills itself (SIGKILL) at this point of a send'),
    crashAfter: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('TESTING ONLY: crash at the crashAt point of the n-th send'),
  })
  .strict();

export const SimPlatformSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Run the simulated platform in-process (with the connectors role): the demo has somewhere to deliver',
      ),
    host: z.string().default('127.0.0.1').describe('Listen address'),
    port: z.number().int().min(0).max(65535).default(9000).describe('Listen port; 0 picks a free port'),
    perSecond: z.number().positive().default(100).describe('Per-account sustained rate before 429s'),
    burst: z.number().int().positive().default(100).describe('Per-account burst before 429s'),
    failureRate: z.number().min(0).max(1).default(0).describe('Fraction of sends answered 503'),
    latencyMs: z.number().int().min(0).default(0).describe('Added latency per request'),
  })
  .strict();

export type ConnectorsConfig = z.output<typeof ConnectorsSchema>;
export type SimPlatformConfig = z.output<typeof SimPlatformSchema>;
