/**
 * Rule file schema. One YAML document per file (or a `rules:` list). Validated strictly so a typo is an
 * error with its file, line and field.
 */
import { z } from 'zod';
import { EventTypeSchema, TokenSchema } from '../envelope/envelope.js';
import { FilterSchema } from './filter.js';

export const DurationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d|w)$/, 'a duration like 500ms, 30s, 5m, 48h, 7d or 2w');

export const ActionSpecSchema = z
  .object({
    channel: TokenSchema.describe('Connector channel (webhook, email, dm, ...)'),
    template: z.string().min(1).describe('Template name the connector renders'),
    variables: z.record(z.string(), z.unknown()).default({}).describe('Values passed to the template'),
    delay: DurationSchema.optional().describe('Send this long after the decision'),
  })
  .strict();

export const TriggerRuleSchema = z
  .object({
    id: TokenSchema.describe('Unique rule id'),
    description: z.string().optional(),
    enabled: z.boolean().default(true),
    on: z
      .union([EventTypeSchema, z.array(EventTypeSchema).min(1)])
      .describe('Event type(s) that trigger the rule'),
    when: FilterSchema.default({}).describe('JSON-Pointer filter; {} matches all'),
    do: z.array(ActionSpecSchema).min(1).describe('Actions to take'),
  })
  .strict();

export type TriggerRule = z.output<typeof TriggerRuleSchema>;

export function durationMs(d: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(d);
  if (!m) throw new Error(`invalid duration ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}
