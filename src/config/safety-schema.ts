/**
 * parley.yaml schemas owned by the safety layer (src/safety/): `safety` (global settings and tenant
 * defaults) and `tenants.<id>.safety` (a tenant's overrides). Included by schema.ts. Caps and quiet hours
 * apply only where configured: a tenant default, or a rule override (`safety.rules.<ruleId>`).
 */
import { z } from 'zod';
import { DurationSchema } from '../rules/schema.js';
import { LexiconOptionsSchema } from '../safety/lexicon.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a local time like 21:00');
export const WindowSchema = DurationSchema.describe('Sliding window: 30m, 24h, 1d, 1w');

export const QuietHoursSchema = z
  .object({
    start: hhmm.describe("Local time quiet hours begin (fan's time zone), e.g. 21:00"),
    end: hhmm.describe('Local time quiet hours end, e.g. 08:00 (may be earlier than start: spans midnight)'),
    mode: z
      .enum(['defer', 'drop'])
      .default('defer')
      .describe('defer: send at the end of quiet hours; drop: do not send (recorded as compliance-blocked)'),
  })
  .strict();

/** A rule may adjust only the mode, or bring its own window. */
export const RuleQuietHoursSchema = z
  .object({ start: hhmm.optional(), end: hhmm.optional(), mode: z.enum(['defer', 'drop']).optional() })
  .strict();

export const FanCapSchema = z
  .object({
    channel: z.string().default('*').describe('Channel the cap counts, or * for all channels together'),
    max: z.number().int().min(0).describe('Most sends to one fan within the window'),
    window: WindowSchema,
  })
  .strict();

export const CapsSchema = z
  .object({
    perFan: z.array(FanCapSchema).default([]).describe('Frequency caps per fan (conversation) and channel'),
    perTenantPerDay: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Most sends per tenant per calendar day (tenant's time zone), enforced at send time"),
  })
  .strict();

export const BridgeSchema = z
  .object({
    label: z
      .enum(['revenue-objection'])
      .describe('Classifier label answered with a bridge message instead of an escalation (low-risk only)'),
    channel: z.string().describe('Channel of the bridge message'),
    template: z.string().describe('Template of the bridge message; variables get label and detail'),
    variables: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Extra template variables of the bridge message'),
    maxPerConversation: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Bridges per conversation; after that the case is escalated'),
  })
  .strict();

export const OptOutConfirmationSchema = z
  .object({
    channel: z
      .string()
      .optional()
      .describe(
        "Channel of the confirmation; default the channel the opt-out came from (the message's attributes.channel)",
      ),
    template: z.string().default('opt-out-confirmation').describe('Template of the confirmation message'),
    text: z
      .string()
      .min(1)
      .default('You are unsubscribed and will get no more messages from us.')
      .describe('The confirmation text (template variable text)'),
    variables: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Extra template variables of the confirmation'),
  })
  .strict();

export const OptOutSchema = z
  .object({
    confirmation: z
      .union([z.literal(false), OptOutConfirmationSchema])
      .optional()
      .describe(
        'The one message sent when a fan opts out (none unless set; false turns a default off for a tenant)',
      ),
  })
  .strict();

export const RuleSafetySchema = z
  .object({
    quietHours: z
      .union([z.literal(false), RuleQuietHoursSchema])
      .optional()
      .describe('false exempts the rule; an object adjusts mode or window'),
    caps: z
      .union([z.literal(false), CapsSchema.pick({ perFan: true })])
      .optional()
      .describe('false exempts the rule from per-fan caps; an object replaces them for this rule'),
  })
  .strict();

export const TenantSafetySchema = z
  .object({
    quietHours: z
      .union([z.literal(false), QuietHoursSchema])
      .optional()
      .describe('Overrides safety.quietHours'),
    caps: CapsSchema.optional().describe('Overrides safety.caps'),
    bridges: z.array(BridgeSchema).optional().describe('Overrides safety.bridges'),
    optOut: OptOutSchema.optional().describe('Overrides safety.optOut'),
    rules: z.record(z.string(), RuleSafetySchema).default({}).describe('Per-rule overrides for this tenant'),
  })
  .strict();

export const ModelSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('Run the model classifier on every fan message (async, fail-closed)'),
    url: z.string().default('http://127.0.0.1:8000/v1').describe('OpenAI-compatible base URL, up to /v1'),
    model: z.string().default('gpt-4o-mini').describe('Model name sent with each request'),
    apiKey: z.string().optional().describe('Bearer token for the endpoint (redacted from logs)'),
    timeoutMs: z
      .number()
      .int()
      .min(50)
      .max(10_000)
      .default(3000)
      .describe('Per-message budget; past it the conversation is escalated (never sent blind)'),
    maxConcurrent: z.number().int().min(1).default(16).describe('Requests in flight per process'),
    prompt: z.string().optional().describe('Replaces the built-in system prompt'),
  })
  .strict();

export const SecondOpinionSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Run the offline statistical classifier (naive Bayes, shipped as data) on every fan message; it can only open an escalation, never lower a lexicon verdict',
      ),
    crisisConfidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.99)
      .describe('Posterior at which its crisis label escalates (as a crisis, priority high)'),
    otherConfidence: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        'Posterior at which its other labels escalate (1 = never: abuse, opt-out, revenue stay with the lexicons)',
      ),
  })
  .strict();

export const SafetySchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('The safety gate; false passes every proposal through unchecked (tests and benches only)'),
    messageTypes: z
      .array(z.string())
      .default(['message.received'])
      .describe("Event types that carry a fan's message and are classified"),
    textFields: z
      .array(z.string())
      .default(['text', 'body', 'message'])
      .describe('Event attributes holding the message text; the first non-empty one is used'),
    timeZoneFields: z
      .array(z.string())
      .default(['timeZone', 'timezone', 'tz'])
      .describe("Profile or event attributes holding the fan's IANA time zone (else the tenant's)"),
    minConfidence: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .describe('A label below this confidence is not acted on automatically: the conversation is escalated'),
    classifiers: z
      .object({
        crisis: LexiconOptionsSchema.default(LexiconOptionsSchema.parse({})),
        abuse: LexiconOptionsSchema.default(LexiconOptionsSchema.parse({})),
        revenueObjection: LexiconOptionsSchema.default(LexiconOptionsSchema.parse({})),
        optOut: LexiconOptionsSchema.extend({
          scope: z
            .enum(['all', 'channel'])
            .default('all')
            .describe(
              'An opt-out enrolls DND on every channel, or only the one it came from (attributes.channel)',
            ),
        }).default({ enabled: true, patterns: [], replaceDefaults: false, scope: 'all' }),
      })
      .strict()
      .default({
        crisis: LexiconOptionsSchema.parse({}),
        abuse: LexiconOptionsSchema.parse({}),
        revenueObjection: LexiconOptionsSchema.parse({}),
        optOut: { enabled: true, patterns: [], replaceDefaults: false, scope: 'all' },
      })
      .describe('Built-in deterministic classifiers (English lexicons; add or replace patterns)'),
    model: ModelSchema.default(ModelSchema.parse({})),
    secondOpinion: SecondOpinionSchema.default(SecondOpinionSchema.parse({})),
    escalation: z
      .object({
        maxHeld: z
          .number()
          .int()
          .min(0)
          .default(50)
          .describe('Actions held per escalated conversation; older ones beyond it are dropped (audited)'),
        heldMaxAgeMs: z
          .number()
          .int()
          .min(0)
          .default(86_400_000)
          .describe('Held actions older than this at resume are dropped as stale (audited)'),
        replyChannel: z
          .string()
          .default('webhook')
          .describe('Channel of a human reply when the resolver names none'),
        replyTemplate: z.string().default('operator-reply').describe('Template of a human reply'),
      })
      .strict()
      .default({
        maxHeld: 50,
        heldMaxAgeMs: 86_400_000,
        replyChannel: 'webhook',
        replyTemplate: 'operator-reply',
      }),
    pause: z
      .object({
        recheckMs: z
          .number()
          .int()
          .min(100)
          .default(1000)
          .describe('How often a paused action is re-checked at send time (resume latency)'),
        maxHoldMs: z
          .number()
          .int()
          .min(0)
          .default(86_400_000)
          .describe('A paused action older than this is dropped instead of sent on resume (audited)'),
      })
      .strict()
      .default({ recheckMs: 1000, maxHoldMs: 86_400_000 }),
    quietHours: QuietHoursSchema.optional().describe('Tenant default quiet hours (none unless set)'),
    caps: CapsSchema.optional().describe('Tenant default frequency caps (none unless set)'),
    bridges: z.array(BridgeSchema).default([]).describe('Tenant default bridge messages'),
    optOut: OptOutSchema.default({}).describe(
      'What follows an opt-out besides DND: the confirmation message (tenant default)',
    ),
    rules: z.record(z.string(), RuleSafetySchema).default({}).describe('Per-rule overrides, by rule id'),
  })
  .strict();

export type SafetyConfig = z.output<typeof SafetySchema>;
export type TenantSafetyConfig = z.output<typeof TenantSafetySchema>;
export type QuietHours = z.output<typeof QuietHoursSchema>;
export type FanCap = z.output<typeof FanCapSchema>;
export type Bridge = z.output<typeof BridgeSchema>;
export type OptOutConfirmation = z.output<typeof OptOutConfirmationSchema>;
export type RuleSafety = z.output<typeof RuleSafetySchema>;
