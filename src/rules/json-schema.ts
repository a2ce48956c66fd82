/**
 * The JSON Schema of rule files, generated from the zod schemas (so editors validate what the loader
 * validates). `rules/schema.json` is this, checked in; regenerate with `npx tsx scripts/render-rule-schema.ts`.
 */
import { z } from 'zod';
import { RuleFileSchema } from './schema.js';

export function ruleFileJsonSchema(): string {
  const schema = z.toJSONSchema(RuleFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return `${JSON.stringify({ ...schema, title: 'Parley rule file' }, null, 2)}\n`;
}
