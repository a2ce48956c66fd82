/**
 * Rule file schemas: one YAML document per file, its `kind` saying what it holds (a trigger rule when
 * omitted, so the minimal rule of the spec stays minimal). Validated strictly so a typo is an error with its
 * file, line and field. `rules/schema.json` (for editors) is generated from these same schemas by
 * scripts/render-rule-schema.ts; a unit test fails when it drifts.
 */
import { z } from 'zod';
import { EventTypeSchema, TokenSchema } from '../contracts/envelope.js';
import { FilterSchema, POINTER_PATTERN } from './filter.js';

export const DURATION_PATTERN = /^\d+(ms|s|m|h|d|w)$/;

export const DurationSchema = z
  .string()
  .regex(DURATION_PATTERN, 'a duration like 500ms, 30s, 5m, 48h, 7d or 2w')
  .describe('A duration: 500ms, 30s, 5m, 48h, 7d, 2w');

const EventTypesSchema = z
  .union([EventTypeSchema, z.array(EventTypeSchema).min(1)])
  .describe('An event type or a list of them');

export const ActionSpecSchema = z
  .object({
    channel: TokenSchema.describe(
      'Connector channel: webhook, email, platform-dm, push or in-app; served where the tenant configures it ' +
        '(tenants.<tenant>.channels in parley.yaml), dead-lettered as channel_not_configured elsewhere',
    ),
    template: z.string().min(1).describe('Template name the connector renders'),
    variables: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        'Values passed to the template; strings may hold {{/event/...}} or {{/profile/... | default}}',
      ),
    delay: DurationSchema.optional().describe('Decide now, send this long after (a durable timer)'),
  })
  .strict();

/** An event that cancels what a rule or journey step has pending (`/trigger/...` is what set it up). */
export const CancelOnSchema = z
  .object({
    on: EventTypesSchema.describe('Event type(s) that cancel'),
    when: FilterSchema.default({}).describe(
      'Filter the cancelling event must pass; /trigger/... is the event that set up what is pending, and ' +
        'an operand may be a placeholder: { eq: "{{/trigger/attributes/cart}}" }',
    ),
  })
  .strict();

const CancelOnListSchema = z
  .union([CancelOnSchema, z.array(CancelOnSchema).min(1)])
  .describe('One cancelling event (type and filter) or a list of them');

export const DebounceSchema = z
  .object({
    window: DurationSchema.describe('Send once no further event came for this long'),
    max: DurationSchema.optional().describe(
      'Send at the latest this long after the first event of the burst, even while it goes on',
    ),
  })
  .strict()
  .describe('One send per burst, with the last event of the burst as /event');

export const DigestSchema = z
  .object({
    window: DurationSchema.describe('Collect for this long after the first event, then send one digest'),
    max_events: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(100)
      .describe('Send as soon as this many events are collected; default 100'),
  })
  .strict()
  .describe('One send listing every collected event as /digest { count, events }');

export const VariantSchema = z
  .object({
    id: TokenSchema.describe('Variant id, recorded on every action it produces'),
    weight: z.number().positive().default(1).describe('Relative weight; default 1'),
    do: z.array(ActionSpecSchema).min(1).describe('Actions of this variant'),
  })
  .strict();

const TenantsSchema = z
  .array(TokenSchema)
  .min(1)
  .optional()
  .describe('Only these tenants; default every tenant');

export const TriggerRuleSchema = z
  .object({
    kind: z.literal('rule').optional().describe('Omit, or "rule"'),
    id: TokenSchema.describe('Unique rule id'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    tenants: TenantsSchema,
    on: EventTypesSchema.describe('Event type(s) that trigger the rule'),
    when: FilterSchema.default({}).describe('JSON-Pointer filter; {} matches all'),
    do: z.array(ActionSpecSchema).min(1).optional().describe('Actions to take'),
    variants: z
      .array(VariantSchema)
      .min(2)
      .optional()
      .describe('A/B test: one variant per conversation, weighted, sticky; instead of `do`'),
    debounce: DebounceSchema.optional(),
    digest: DigestSchema.optional(),
    cancel_on: CancelOnListSchema.optional().describe(
      "Events that cancel this rule's pending sends (delayed actions, open debounce or digest windows)",
    ),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.debounce && r.digest)
      ctx.addIssue({
        code: 'custom',
        path: ['digest'],
        message: 'a rule takes `debounce` or `digest`, not both',
      });
    if (r.debounce?.max && durationMs(r.debounce.max) < durationMs(r.debounce.window))
      ctx.addIssue({
        code: 'custom',
        path: ['debounce', 'max'],
        message: '`max` must be at least `window`',
      });
    if (r.debounce || r.digest) {
      const lists = [
        { path: ['do'], actions: r.do ?? [] },
        ...(r.variants ?? []).map((v, i) => ({ path: ['variants', i, 'do'], actions: v.do })),
      ];
      for (const { path, actions } of lists)
        for (const [i, a] of actions.entries())
          if (a.delay)
            ctx.addIssue({
              code: 'custom',
              path: [...path, i, 'delay'],
              message: `a ${r.debounce ? 'debounced' : 'digest'} rule sends when its window closes: drop \`delay\``,
            });
    }
    if ((r.do === undefined) === (r.variants === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['do'],
        message: 'a rule needs exactly one of `do` or `variants`',
      });
    const ids = new Set<string>();
    for (const [i, v] of (r.variants ?? []).entries()) {
      if (ids.has(v.id))
        ctx.addIssue({
          code: 'custom',
          path: ['variants', i, 'id'],
          message: `variant "${v.id}" is listed twice`,
        });
      ids.add(v.id);
    }
  });

export const WaitSchema = z
  .object({
    for: EventTypesSchema.describe('Event type(s) that end the wait (on_event edge)'),
    when: FilterSchema.default({}).describe('Filter the waited-for event must also pass'),
    timeout: DurationSchema.describe('How long to wait before taking the on_timeout edge'),
  })
  .strict();

export const BranchCaseSchema = z
  .object({
    when: FilterSchema.describe('Condition over /event, /profile, /conversation, /segments'),
    next: TokenSchema.describe('Step to go to when it matches'),
  })
  .strict();

export const JourneyStepSchema = z
  .object({
    id: TokenSchema.describe('Step id, unique in the journey'),
    description: z.string().optional(),
    do: z.array(ActionSpecSchema).min(1).optional().describe('Action step: propose these actions'),
    delay: DurationSchema.optional().describe('Delay step: wait this long (durable timer)'),
    wait: WaitSchema.optional().describe('Wait step: for an event, with a timeout'),
    branch: z.array(BranchCaseSchema).min(1).optional().describe('Branch step: first case that matches'),
    otherwise: TokenSchema.optional().describe('Branch step: where to go when no case matches'),
    exit: z
      .union([z.literal(true), TokenSchema])
      .optional()
      .describe('Exit step: true or an exit reason'),
    next: TokenSchema.optional().describe('Action and delay steps: the following step'),
    on_event: TokenSchema.optional().describe('Wait step: where to go when the event arrives'),
    on_timeout: TokenSchema.optional().describe('Wait step: where to go when the timeout passes'),
    max_visits: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Bounds a loop through this step; the run exits (max_visits) on the next visit'),
    cancel_on: CancelOnListSchema.optional().describe(
      'Delay and wait steps: an event that ends the run while it is at this step (exit cancelled:<step>)',
    ),
  })
  .strict();

export const JourneySchema = z
  .object({
    kind: z.literal('journey'),
    id: TokenSchema.describe('Unique journey id'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    tenants: TenantsSchema,
    entry: z
      .object({
        on: EventTypesSchema.describe(
          'Event type(s) or detector signals (detector.inactive, ...) that enter',
        ),
        when: FilterSchema.default({}),
      })
      .strict(),
    reentry: z
      .enum(['once', 'after_exit', 'always'])
      .default('after_exit')
      .describe('once: never again; after_exit: when not in flight; always: restart even if in flight'),
    start: TokenSchema.optional().describe('First step; default the first listed'),
    exit_on: CancelOnListSchema.optional().describe(
      'Events that end a run wherever it is (exit exit_on:<type>, audited; its pending timer cancelled)',
    ),
    steps: z.array(JourneyStepSchema).min(1),
  })
  .strict();

export const SegmentsSchema = z
  .object({
    kind: z.literal('segments'),
    description: z.string().optional(),
    segments: z
      .record(TokenSchema, FilterSchema)
      .describe('Named filters over /profile and /conversation; a segment may use segments defined above it'),
  })
  .strict();

export const DetectorsSchema = z
  .object({
    kind: z.literal('detectors'),
    description: z.string().optional(),
    inactivity: z
      .array(
        z
          .object({
            id: TokenSchema,
            after: DurationSchema.describe('Emit detector.inactive this long after the last inbound message'),
            reset_on: EventTypesSchema.default(['message.received']).describe('Inbound events that reset it'),
          })
          .strict(),
      )
      .default([]),
    spend: z
      .object({
        on: EventTypesSchema.default(['purchase.completed']),
        amount: z
          .string()
          .regex(POINTER_PATTERN)
          .default('/event/attributes/amount')
          .describe('Where the amount is in the event'),
        milestones: z.array(z.number().positive()).default([]).describe('Totals reported when crossed'),
      })
      .strict()
      .optional()
      .describe('Emits detector.spend_changed on every purchase'),
    failed_conversion: z
      .object({
        on: EventTypesSchema.default(['payment.failed']),
        threshold: z.number().int().min(1).default(2),
        window: DurationSchema.default('7d'),
        reset_on: EventTypesSchema.default(['purchase.completed']),
      })
      .strict()
      .optional()
      .describe('Emits detector.conversion_failed when `threshold` attempts fail within `window`'),
  })
  .strict();

export const ScheduleSchema = z
  .object({
    kind: z.literal('schedule'),
    id: TokenSchema,
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    tenants: TenantsSchema,
    cron: z.string().min(1).describe('Cron expression (5 or 6 fields), read in the time zone'),
    timezone: z.string().optional().describe("IANA time zone; default the tenant's timeZone"),
    segment: TokenSchema.optional().describe('Only conversations in this segment; default all'),
    event: EventTypeSchema.describe('Event type published to each conversation'),
    attributes: z.record(z.string(), z.unknown()).default({}),
    batch: z
      .object({
        size: z.number().int().min(1).max(1000).default(100).describe('Events published together'),
        per_second: z.number().positive().default(50).describe('Rate limit of published events'),
      })
      .strict()
      .default({ size: 100, per_second: 50 }),
    catch_up: DurationSchema.default('1h').describe(
      'A run missed while down is still fired within this long',
    ),
  })
  .strict();

export type ActionSpec = z.output<typeof ActionSpecSchema>;
export type CancelOn = z.output<typeof CancelOnSchema>;
export type TriggerRule = z.output<typeof TriggerRuleSchema>;
export type Journey = z.output<typeof JourneySchema>;
export type JourneyStep = z.output<typeof JourneyStepSchema>;
export type Segments = z.output<typeof SegmentsSchema>;
export type Detectors = z.output<typeof DetectorsSchema>;
export type Schedule = z.output<typeof ScheduleSchema>;

export const FILE_KINDS = {
  rule: TriggerRuleSchema,
  journey: JourneySchema,
  segments: SegmentsSchema,
  detectors: DetectorsSchema,
  schedule: ScheduleSchema,
} as const;

/** Any rule file, for the JSON Schema editors use. */
export const RuleFileSchema = z.union([
  TriggerRuleSchema,
  JourneySchema,
  SegmentsSchema,
  DetectorsSchema,
  ScheduleSchema,
]);

export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(d);
  if (!m) throw new Error(`invalid duration ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

export function typesOf(on: string | string[]): string[] {
  return Array.isArray(on) ? on : [on];
}
