/**
 * Property tests (fast-check) over the two languages Parley accepts from outside: the ingest event schema
 * (anything a client can POST) and the `when` filter DSL (anything a rule author can write). Seeded, bounded
 * run counts, pure: no network, no clock (a fixed `now`).
 */
import fc from 'fast-check';
import t from 'tap';
import { DEFAULT_INGEST_LIMITS, ingestEventSchema } from '../../src/http/schemas.js';
import { compileFilter, FilterSchema } from '../../src/rules/filter.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const schema = ingestEventSchema(DEFAULT_INGEST_LIMITS, () => NOW);
const RUNS = { numRuns: 300, seed: 1010 };

const TOKEN = /^[A-Za-z0-9_-]+$/;
const TYPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const tokenChar = fc.constantFrom(...'abcXYZ019_-'.split(''));
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 40 });
const type = fc
  .array(token, { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('.'))
  .filter((t) => t.length <= 128 && !t.startsWith('admin.'));
const pastIso = fc
  .integer({ min: Date.parse('1971-01-01T00:00:00Z'), max: NOW })
  .map((ms) => new Date(ms).toISOString());
const smallAttributes = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 20 }),
  fc.oneof(fc.integer(), fc.string({ maxLength: 50 }), fc.boolean(), fc.constant(null)),
  { maxKeys: 8 },
);
const validEvent = fc.record(
  {
    id: fc.string({
      unit: fc.constantFrom(...'abc-_:.0123456789XYZ'.split('')),
      minLength: 1,
      maxLength: 60,
    }),
    type,
    conversation: token,
    occurredAt: pastIso,
    attributes: smallAttributes,
  },
  { requiredKeys: ['type', 'conversation', 'occurredAt'] },
);
/** A string with at least one character a subject token must not contain. */
const hostile = fc
  .tuple(
    fc.string({ maxLength: 10 }),
    fc.constantFrom('.', '*', '>', ' ', '\t', 'é', '/', '$', '\u0000', '💥', '\n'),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, bad, b]) => `${a}${bad}${b}`);

function issuePaths(result: {
  success: boolean;
  error?: { issues: Array<{ path: PropertyKey[] }> };
}): string[] {
  return (result.error?.issues ?? []).map((i) => i.path.map(String).join('.'));
}

t.test('ingest schema property - every well-formed event parses and keeps its fields', async (t) => {
  fc.assert(
    fc.property(validEvent, (e) => {
      const r = schema.safeParse(e);
      if (!r.success) return false;
      return (
        r.data.conversation === e.conversation && r.data.type === e.type && r.data.occurredAt === e.occurredAt
      );
    }),
    RUNS,
  );
  t.pass();
});

t.test(
  'ingest schema property - a conversation with any non-token character is refused, naming it',
  async (t) => {
    fc.assert(
      fc.property(validEvent, hostile, (e, conversation) => {
        const r = schema.safeParse({ ...e, conversation });
        return !r.success && issuePaths(r).includes('conversation');
      }),
      RUNS,
    );
    fc.assert(
      fc.property(
        validEvent,
        fc.string({ unit: tokenChar, minLength: 129, maxLength: 300 }),
        (e, conversation) => {
          const r = schema.safeParse({ ...e, conversation });
          return !r.success && issuePaths(r).includes('conversation');
        },
      ),
      { ...RUNS, numRuns: 50 },
    );
    t.pass();
  },
);

t.test(
  'ingest schema property - a type with wildcards, spaces or empty tokens is refused, naming it',
  async (t) => {
    const badType = fc.oneof(
      hostile,
      type.map((x) => `${x}.`),
      type.map((x) => `.${x}`),
      type.map((x) => x.replace(/^([^.]*)/, '$1..')),
      type.map((x) => `${x}.>`),
    );
    fc.assert(
      fc.property(validEvent, badType, (e, bad) => {
        const r = schema.safeParse({ ...e, type: bad });
        return !r.success && issuePaths(r).includes('type');
      }),
      RUNS,
    );
    t.pass();
  },
);

t.test(
  'ingest schema property - whatever the input, parsing never throws and never yields an unsafe subject',
  async (t) => {
    const anything = fc.oneof(
      fc.jsonValue(),
      fc.record({
        type: fc.string(),
        conversation: fc.string(),
        occurredAt: fc.string(),
        attributes: fc.jsonValue(),
      }),
      validEvent.chain((e) =>
        fc.record({
          ...Object.fromEntries(
            Object.entries(e).map(([k, v]) => [k, fc.oneof(fc.constant(v), fc.jsonValue())]),
          ),
        }),
      ),
    );
    fc.assert(
      fc.property(anything, (input) => {
        const r = schema.safeParse(input);
        if (!r.success) return r.error.issues.length > 0;
        return (
          TOKEN.test(r.data.conversation) &&
          TYPE.test(r.data.type) &&
          Date.parse(r.data.occurredAt) <= NOW + 600_000
        );
      }),
      { ...RUNS, numRuns: 500 },
    );
    t.pass();
  },
);

t.test(
  'ingest schema property - attributes deeper than the limit are refused under attributes',
  async (t) => {
    const deep = (depth: number) => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = { a: v };
      return v as Record<string, unknown>;
    };
    fc.assert(
      fc.property(
        validEvent,
        fc.integer({ min: DEFAULT_INGEST_LIMITS.maxAttributeDepth + 1, max: 2000 }),
        (e, depth) => {
          const r = schema.safeParse({ ...e, attributes: deep(depth) });
          return !r.success && issuePaths(r).some((p) => p.startsWith('attributes'));
        },
      ),
      { ...RUNS, numRuns: 60 },
    );
    fc.assert(
      fc.property(
        validEvent,
        fc.integer({ min: 1, max: DEFAULT_INGEST_LIMITS.maxAttributeDepth - 1 }),
        (e, depth) => schema.safeParse({ ...e, attributes: deep(depth) }).success,
      ),
      { ...RUNS, numRuns: 30 },
    );
    t.pass();
  },
);

t.test(
  'ingest schema property - occurredAt beyond the allowed skew is refused, any past is accepted',
  async (t) => {
    fc.assert(
      fc.property(validEvent, fc.integer({ min: 601, max: 10 * 365 * 86_400 }), (e, aheadSeconds) => {
        const r = schema.safeParse({ ...e, occurredAt: new Date(NOW + aheadSeconds * 1000).toISOString() });
        return !r.success && issuePaths(r).includes('occurredAt');
      }),
      RUNS,
    );
    t.pass();
  },
);

t.test('ingest schema property - an unknown field is refused', async (t) => {
  const known = new Set(['id', 'type', 'conversation', 'occurredAt', 'attributes', 'tenant', 'traceId']);
  fc.assert(
    fc.property(
      validEvent,
      fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !known.has(k) && k !== '__proto__'),
      (e, key) => !schema.safeParse({ ...e, [key]: 1 }).success,
    ),
    RUNS,
  );
  t.pass();
});

// --- filter DSL ---------------------------------------------------------------------------------------

const scalar = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
);
const isoTime = fc
  .tuple(
    fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2040-01-01T00:00:00Z') }),
    fc.integer({ min: -12, max: 14 }),
  )
  .map(([ms, offsetH]) => {
    const shifted = new Date(ms + offsetH * 3_600_000).toISOString().slice(0, 19);
    const sign = offsetH < 0 ? '-' : '+';
    return { ms, text: `${shifted}${sign}${String(Math.abs(offsetH)).padStart(2, '0')}:00` };
  });
const key = fc.string({ unit: fc.constantFrom(...'abcdef'.split('')), minLength: 1, maxLength: 6 });
const doc = (attributes: Record<string, unknown>) => ({
  event: { type: 'message.received', attributes },
  profile: {},
  conversation: { events: 1 },
  now: NOW,
});
const compile = (f: unknown) => compileFilter(FilterSchema.parse(f));

t.test('filter property - {} matches every document', async (t) => {
  const match = compile({});
  fc.assert(
    fc.property(fc.jsonValue(), (v) => match(v) === true),
    RUNS,
  );
  t.pass();
});

t.test('filter property - eq and a bare value match the value itself; neq is its negation', async (t) => {
  fc.assert(
    fc.property(key, scalar, scalar, (k, v, other) => {
      const d = doc({ [k]: v });
      const p = `/event/attributes/${k}`;
      const eqSelf = compile({ [p]: { eq: v } })(d) && compile({ [p]: v })(d);
      const eqOther = compile({ [p]: { eq: other } })(d);
      const neqOther = compile({ [p]: { neq: other } })(d);
      return eqSelf && eqOther !== neqOther;
    }),
    RUNS,
  );
  t.pass();
});

t.test(
  'filter property - numbers: exactly one of lt, eq, gt holds; gt/lt agree with JavaScript',
  async (t) => {
    const num = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.double({ min: -1e9, max: 1e9, noNaN: true }),
    );
    fc.assert(
      fc.property(num, num, (v, x) => {
        const d = doc({ v });
        const gt = compile({ '/event/attributes/v': { gt: x } })(d);
        const lt = compile({ '/event/attributes/v': { lt: x } })(d);
        const eq = compile({ '/event/attributes/v': { eq: x } })(d);
        return gt === v > x && lt === v < x && Number(gt) + Number(lt) + Number(eq) === 1;
      }),
      RUNS,
    );
    t.pass();
  },
);

t.test('filter property - ISO times compare as instants whatever their offsets', async (t) => {
  fc.assert(
    fc.property(isoTime, isoTime, (a, b) => {
      const d = doc({ at: a.text });
      const gt = compile({ '/event/attributes/at': { gt: b.text } })(d);
      const lt = compile({ '/event/attributes/at': { lt: b.text } })(d);
      const eq = compile({ '/event/attributes/at': { eq: b.text } })(d);
      const ta = Date.parse(a.text);
      const tb = Date.parse(b.text);
      return gt === ta > tb && lt === ta < tb && eq === (ta === tb);
    }),
    RUNS,
  );
  t.pass();
});

t.test('filter property - a string is never a number; missing never compares', async (t) => {
  fc.assert(
    fc.property(fc.integer(), fc.integer(), (v, x) => {
      const asString = doc({ v: String(v) });
      const missing = doc({});
      return (
        !compile({ '/event/attributes/v': { gt: x } })(asString) &&
        !compile({ '/event/attributes/v': { lt: x } })(asString) &&
        !compile({ '/event/attributes/v': { gt: x } })(missing) &&
        !compile({ '/event/attributes/v': { lt: x } })(missing)
      );
    }),
    RUNS,
  );
  t.pass();
});

t.test('filter property - in is a disjunction of eq; exists is presence; keys AND', async (t) => {
  fc.assert(
    fc.property(
      key,
      scalar,
      fc.array(scalar, { maxLength: 5 }),
      fc.option(scalar, { nil: undefined }),
      (k, v, options, w) => {
        const d = doc(w === undefined ? { [k]: v } : { [k]: v, zz: w });
        const p = `/event/attributes/${k}`;
        const inOk =
          compile({ [p]: { in: options } })(d) === options.some((o) => compile({ [p]: { eq: o } })(d));
        const exists =
          compile({ '/event/attributes/zz': { exists: true } })(d) === (w !== undefined && w !== null);
        const both =
          compile({ [p]: { eq: v }, '/event/attributes/zz': { exists: true } })(d) ===
          (w !== undefined && w !== null);
        return inOk && exists && both;
      },
    ),
    RUNS,
  );
  t.pass();
});

t.test(
  'filter property - any schema-valid filter compiles and answers a boolean on any document',
  async (t) => {
    const condition = fc.oneof(
      scalar,
      fc
        .record(
          {
            eq: scalar,
            neq: scalar,
            gt: fc.oneof(fc.integer(), fc.constantFrom('now', 'now-7d', 'now+1h', '2026-01-01T00:00:00Z')),
            lt: fc.integer(),
            contains: scalar,
            in: fc.array(scalar, { maxLength: 3 }),
            exists: fc.boolean(),
          },
          { requiredKeys: [] },
        )
        .filter((c) => Object.keys(c).length > 0),
    );
    const filter = fc.dictionary(
      key.map((k) => `/event/attributes/${k}`),
      condition,
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(filter, fc.dictionary(key, fc.jsonValue(), { maxKeys: 6 }), (f, attributes) => {
        const parsed = FilterSchema.safeParse(f);
        if (!parsed.success) return true;
        return typeof compileFilter(parsed.data)(doc(attributes)) === 'boolean';
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        FilterSchema.safeParse(v);
        return true;
      }),
      RUNS,
    );
    t.pass();
  },
);
