import t from 'tap';
import { compileFilter, FilterSchema } from '../../src/rules/filter.js';
import { compileTemplate } from '../../src/rules/interpolate.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const doc = (event: Record<string, unknown>, profile: Record<string, unknown> = {}) => ({
  event: { type: 'message.received', attributes: event },
  profile,
  conversation: { events: 3 },
  now: NOW,
});
const when = (f: Record<string, unknown>) => compileFilter(FilterSchema.parse(f));

t.test('filter - operators, numbers, ISO times and AND', async (t) => {
  t.ok(when({})(doc({})), '{} matches everything');
  t.ok(when({ '/event/attributes/amount': { gt: 100 } })(doc({ amount: 150 })));
  t.notOk(
    when({ '/event/attributes/amount': { gt: 100 } })(doc({ amount: '150' })),
    'a string is not a number',
  );
  t.notOk(when({ '/event/attributes/amount': { lt: 100 } })(doc({})), 'missing never compares');
  t.ok(
    when({ '/event/attributes/at': { gt: '2026-01-01T00:00:00Z' } })(
      doc({ at: '2026-02-01T00:00:00+01:00' }),
    ),
  );
  t.ok(
    when({ '/event/attributes/at': { eq: '2026-01-01T01:00:00+01:00' } })(
      doc({ at: '2026-01-01T00:00:00Z' }),
    ),
    'instants compare as instants',
  );
  t.ok(when({ '/event/attributes/tier': 'gold' })(doc({ tier: 'gold' })), 'a bare value means eq');
  t.ok(when({ '/event/attributes/tier': { neq: 'gold' } })(doc({ tier: 'free' })));
  t.ok(
    when({ '/event/attributes/text': { contains: 'REFUND' } })(doc({ text: 'I want a refund' })),
    'contains is case-insensitive',
  );
  t.ok(
    when({ '/event/attributes/tags': { contains: 'vip' } })(doc({ tags: ['new', 'vip'] })),
    'contains on arrays',
  );
  t.ok(when({ '/event/attributes/tier': { in: ['gold', 'vip'] } })(doc({ tier: 'vip' })));
  t.ok(when({ '/event/attributes/x': { exists: false } })(doc({ x: null })), 'null does not exist');
  t.ok(when({ '/event/attributes/x': { exists: true } })(doc({ x: 0 })));
  const both = when({ '/event/attributes/a': 1, '/profile/b': { gt: 1 } });
  t.ok(both(doc({ a: 1 }, { b: 2 })));
  t.notOk(both(doc({ a: 1 }, { b: 1 })), 'keys AND');
  t.ok(when({ '/event/attributes/a~1b': 1 })(doc({ 'a/b': 1 })), 'JSON Pointer escapes');
});

t.test('filter - now-relative times use the evaluation time, not the wall clock', async (t) => {
  const stale = when({ '/profile/lastInboundAt': { lt: 'now-14d' } });
  t.ok(stale(doc({}, { lastInboundAt: '2026-02-01T00:00:00Z' })));
  t.notOk(stale(doc({}, { lastInboundAt: '2026-02-20T00:00:00Z' })));
  t.notOk(stale(doc({}, {})), 'never spoke: not comparable');
  t.ok(when({ '/event/attributes/until': { gt: 'now' } })(doc({ until: NOW + 1 })), 'numbers are ms');
});

t.test('filter - unknown operators, bad pointers, unknown roots and segments are errors', async (t) => {
  const bad = FilterSchema.safeParse({ '/event/type': { equals: 'x' } });
  t.notOk(bad.success, 'unknown operator');
  t.match(JSON.stringify(bad.error?.issues), /equals/);
  t.notOk(FilterSchema.safeParse({ 'event/type': 'x' }).success, 'keys must be pointers');
  t.notOk(FilterSchema.safeParse({ '/event/type': {} }).success, 'a condition needs an operator');
  t.throws(() => when({ '/evnt/type': 'x' }), /must start with one of/);
  t.throws(() => when({ '/segments/vip': true }), /unknown segment "vip"/);
});

t.test('filter - segments are named predicates over the same document', async (t) => {
  const vip = compileFilter({ '/profile/totalSpend': { gt: 500 } });
  const rule = compileFilter(
    { '/segments/vip': true, '/event/type': 'message.received' },
    { segments: new Map([['vip', vip]]) },
  );
  t.ok(rule(doc({}, { totalSpend: 600 })));
  t.notOk(rule(doc({}, { totalSpend: 100 })));
  const notVip = compileFilter({ '/segments/vip': false }, { segments: new Map([['vip', vip]]) });
  t.ok(notVip(doc({}, {})));
});

t.test('interpolate - pointers, defaults, types kept for whole placeholders', async (t) => {
  const render = compileTemplate({
    name: '{{/event/attributes/name | there}}',
    greeting: 'Hi {{/event/attributes/name | there}}, you spent {{/profile/totalSpend}}',
    amount: '{{/profile/totalSpend}}',
    fixed: 3,
    nested: ['{{/conversation/events}}'],
  });
  t.same(render(doc({ name: 'Ana' }, { totalSpend: 12.5 })), {
    name: 'Ana',
    greeting: 'Hi Ana, you spent 12.5',
    amount: 12.5,
    fixed: 3,
    nested: [3],
  });
  t.same((render(doc({}, {})) as { name: string }).name, 'there');
  const constant = { a: 1 };
  t.equal(compileTemplate(constant)(doc({})), constant, 'constants are not copied');
  t.throws(() => compileTemplate({ x: '{{/secrets/key}}' }), { name: 'TemplateError' });
  t.throws(() => compileTemplate({ x: '{{name}}' }), /JSON Pointers/);
});
