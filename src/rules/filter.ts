/**
 * The `when` filter DSL (JSON-Pointer keys, operator objects as values), compiled once to a predicate.
 *   { "/event/attributes/amount": { gt: 100 }, "/segments/vip": true, "/profile/lastInboundAt": { lt: "now-7d" } }
 * Operators: eq, neq, gt, lt, contains, in, exists; an unknown operator is an error. A bare value means eq.
 * Keys AND; `{}` matches all. Numbers compare as numbers; two ISO-8601 timestamps compare as instants;
 * otherwise strict equality. `now`, `now-7d`, `now+1h` are times relative to the evaluation's `now` (the
 * event's stream time, never the wall clock), so evaluation stays deterministic.
 *
 * The document a predicate reads is { event, profile, conversation, now, journey? }; `/segments/<name>`
 * is not data but the named segment's own predicate over the same document. A `cancel_on` filter also reads
 * `/trigger` (the event that set up what it cancels) and may take an operand from the document:
 * `{ eq: "{{/trigger/attributes/cart}}" }`.
 */
import { z } from 'zod';

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const ConditionSchema = z
  .object({
    eq: Scalar.optional().describe('Equal (numbers and ISO times compare by value)'),
    neq: Scalar.optional().describe('Not equal'),
    gt: z
      .union([z.number(), z.string()])
      .optional()
      .describe('Greater than: a number, an ISO time or now-7d'),
    lt: z.union([z.number(), z.string()]).optional().describe('Less than: a number, an ISO time or now-7d'),
    contains: Scalar.optional().describe('Substring (case-insensitive) of a string, or element of an array'),
    in: z.array(Scalar).optional().describe('Equal to one of these'),
    exists: z.boolean().optional().describe('The value is present (not missing, not null)'),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'a condition needs at least one operator');

export const POINTER_PATTERN = /^(\/([^/~]|~[01])*)+$/;

export const FilterSchema = z
  .record(
    z.string().regex(POINTER_PATTERN, 'keys are JSON Pointers like /event/attributes/amount'),
    z.union([ConditionSchema, Scalar]),
  )
  .describe('JSON-Pointer filter: /event/..., /profile/..., /conversation/..., /segments/<name>; keys AND');

export type Filter = z.infer<typeof FilterSchema>;
export type Predicate = (doc: unknown) => boolean;

export interface FilterOptions {
  /** Named segments that `/segments/<name>` refers to. */
  segments?: ReadonlyMap<string, Predicate>;
  /**
   * A `cancel_on` filter: `/trigger/...` (what set up the pending send) is a root, and an operand that is
   * exactly one placeholder (`{ eq: "{{/trigger/attributes/cart}}" }`) is read from the document.
   */
  cancel?: boolean;
}

/** A problem found while compiling a filter; `key` is the pointer at fault. */
export class FilterError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.key = key;
  }
}

export function resolvePointer(doc: unknown, tokens: readonly string[]): unknown {
  let node = doc;
  for (const token of tokens) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}

export function parsePointer(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const RELATIVE = /^now(?:([+-])(\d+)(ms|s|m|h|d|w))?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

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

/** A value as an instant in ms: numbers are taken as ms, ISO strings parsed. */
function instant(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && ISO.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
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
type Check = (v: unknown, doc: unknown) => boolean;

function nowOf(doc: unknown): number {
  const now = (doc as { now?: unknown } | null)?.now;
  return typeof now === 'number' ? now : Number.NaN;
}

/** `gt`/`lt` operand: a fixed value, or `now±duration` resolved against the document's now. */
function orderCheck(operand: number | string, sign: 1 | -1): Check {
  const rel = typeof operand === 'string' ? RELATIVE.exec(operand) : null;
  if (rel) {
    const offset = rel[1] ? (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNIT_MS[rel[3] as 'ms'] : 0;
    return (v, doc) => {
      const t = instant(v);
      return t !== undefined && sign * (t - (nowOf(doc) + offset)) > 0;
    };
  }
  return (v) => sign * (compare(v, operand) ?? Number.NaN) > 0;
}

const OPERAND_PLACEHOLDER = /^\{\{\s*(\/[^}|]*?)\s*\}\}$/;

/** An operand as a function of the document: a fixed value, or a `{{/pointer}}` read (cancel filters). */
function operandOf(value: unknown, placeholders: boolean, key: string): (doc: unknown) => unknown {
  const m = placeholders && typeof value === 'string' ? OPERAND_PLACEHOLDER.exec(value) : null;
  if (!m) return () => value;
  const tokens = parsePointer(m[1]!);
  if (!CANCEL_ROOTS.has(tokens[0]!))
    throw new FilterError(
      key,
      `"${value}" must read one of ${[...CANCEL_ROOTS].map((r) => `/${r}`).join(', ')}`,
    );
  return (doc) => resolvePointer(doc, tokens);
}

function conditionPredicate(c: Condition, placeholders: boolean, key: string): Check {
  const checks: Check[] = [];
  if ('eq' in c) {
    const eq = operandOf(c.eq, placeholders, key);
    checks.push((v, doc) => equals(v, eq(doc)));
  }
  if ('neq' in c) {
    const neq = operandOf(c.neq, placeholders, key);
    checks.push((v, doc) => !equals(v, neq(doc)));
  }
  if (c.gt !== undefined) checks.push(orderCheck(c.gt, 1));
  if (c.lt !== undefined) checks.push(orderCheck(c.lt, -1));
  if ('contains' in c) {
    const needle = operandOf(c.contains, placeholders, key);
    checks.push((v, doc) => contains(v, needle(doc)));
  }
  if (c.in !== undefined) {
    const options = c.in.map((x) => operandOf(x, placeholders, key));
    checks.push((v, doc) => options.some((x) => equals(v, x(doc))));
  }
  if (c.exists !== undefined) {
    const want = c.exists;
    checks.push((v) => (v !== undefined && v !== null) === want);
  }
  if (checks.length === 1) return checks[0]!;
  return (v, doc) => checks.every((check) => check(v, doc));
}

const ROOTS = new Set(['event', 'profile', 'conversation', 'segments', 'now', 'journey']);
const CANCEL_ROOTS = new Set([...ROOTS, 'trigger']);

/**
 * Compiles a filter. Throws FilterError for a pointer outside the document's roots or an unknown segment
 * (the rule loader turns it into an issue with file, line and field).
 */
export function compileFilter(filter: Filter, options: FilterOptions = {}): Predicate {
  const clauses = Object.entries(filter).map(([pointer, cond]) => {
    const tokens = parsePointer(pointer);
    const roots = options.cancel ? CANCEL_ROOTS : ROOTS;
    if (!roots.has(tokens[0]!))
      throw new FilterError(pointer, `must start with one of ${[...roots].map((r) => `/${r}`).join(', ')}`);
    let read: (doc: unknown) => unknown = (doc) => resolvePointer(doc, tokens);
    if (tokens[0] === 'segments') {
      const name = tokens[1];
      const segment = name === undefined ? undefined : options.segments?.get(name);
      if (!segment || tokens.length !== 2)
        throw new FilterError(
          pointer,
          `unknown segment "${name ?? ''}"${options.segments?.size ? `; defined: ${[...options.segments.keys()].join(', ')}` : ' (no segments are defined)'}`,
        );
      read = segment;
    }
    const placeholders = options.cancel === true;
    const bare = operandOf(cond, placeholders, pointer);
    const test: Check =
      cond !== null && typeof cond === 'object'
        ? conditionPredicate(cond as Condition, placeholders, pointer)
        : (v: unknown, doc: unknown) => equals(v, bare(doc));
    return (doc: unknown) => test(read(doc), doc);
  });
  if (clauses.length === 0) return () => true;
  if (clauses.length === 1) return clauses[0]!;
  return (doc) => clauses.every((clause) => clause(doc));
}
