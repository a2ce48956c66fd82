/**
 * The `when` filter DSL (JSON-Pointer keys, operator objects as values), compiled once to a predicate.
 *   { "/event/attributes/amount": { gt: 100 }, "/event/type": "message.received" }
 * Operators: eq, neq, gt, lt, contains, in, exists. A bare value means eq. Keys AND; `{}` matches all.
 * Numbers compare as numbers; two ISO-8601 timestamps compare as instants; otherwise strict equality.
 */
import { z } from 'zod';

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ConditionSchema = z
  .object({
    eq: Scalar.optional(),
    neq: Scalar.optional(),
    gt: z.union([z.number(), z.string()]).optional(),
    lt: z.union([z.number(), z.string()]).optional(),
    contains: Scalar.optional(),
    in: z.array(Scalar).optional(),
    exists: z.boolean().optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'a condition needs at least one operator');

export const FilterSchema = z.record(
  z.string().regex(/^(\/([^/~]|~[01])*)+$/, 'keys are JSON Pointers like /event/attributes/amount'),
  z.union([ConditionSchema, Scalar]),
);

export type Filter = z.infer<typeof FilterSchema>;
export type Predicate = (doc: unknown) => boolean;

function resolvePointer(doc: unknown, tokens: readonly string[]): unknown {
  let node = doc;
  for (const token of tokens) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}

function parsePointer(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Orders a and b as numbers or as ISO instants; undefined when they are not comparable. */
function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string' && ISO.test(a) && ISO.test(b)) {
    const ta = Date.parse(a);
    const tb = Date.parse(b);
    if (!Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  }
  return undefined;
}

function equals(a: unknown, b: unknown): boolean {
  const c = compare(a, b);
  return c === undefined ? a === b : c === 0;
}

function contains(value: unknown, needle: unknown): boolean {
  if (typeof value === 'string' && typeof needle === 'string')
    return value.toLowerCase().includes(needle.toLowerCase());
  if (Array.isArray(value)) return value.some((v) => equals(v, needle));
  return false;
}

type Condition = z.infer<typeof ConditionSchema>;

function conditionPredicate(c: Condition): (v: unknown) => boolean {
  const checks: Array<(v: unknown) => boolean> = [];
  if ('eq' in c) checks.push((v) => equals(v, c.eq));
  if ('neq' in c) checks.push((v) => !equals(v, c.neq));
  if (c.gt !== undefined) checks.push((v) => (compare(v, c.gt) ?? Number.NaN) > 0);
  if (c.lt !== undefined) checks.push((v) => (compare(v, c.lt) ?? Number.NaN) < 0);
  if ('contains' in c) checks.push((v) => contains(v, c.contains));
  if (c.in !== undefined) checks.push((v) => c.in!.some((x) => equals(v, x)));
  if (c.exists !== undefined) checks.push((v) => (v !== undefined && v !== null) === c.exists);
  return (v) => checks.every((check) => check(v));
}

export function compileFilter(filter: Filter): Predicate {
  const clauses = Object.entries(filter).map(([pointer, cond]) => {
    const tokens = parsePointer(pointer);
    const test =
      cond !== null && typeof cond === 'object'
        ? conditionPredicate(cond as Condition)
        : (v: unknown) => equals(v, cond);
    return (doc: unknown) => test(resolvePointer(doc, tokens));
  });
  return (doc) => clauses.every((clause) => clause(doc));
}
