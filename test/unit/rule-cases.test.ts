import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ruleFileJsonSchema } from '../../src/rules/json-schema.js';
import { loadRuleSet } from '../../src/rules/rule-set.js';
import { runTestCases } from '../../src/rules/test-cases.js';

const RULES = join(import.meta.dirname, '../../rules');

t.test('rules - the sample rule set compiles', async (t) => {
  const set = loadRuleSet(RULES);
  t.ok(
    set.rules.some((r) => r.id === 'echo'),
    'keeps the minimal echo rule',
  );
  t.same([...set.journeys.keys()].sort(), ['follow-back', 'payment-recovery']);
  t.equal(set.schedules.length, 1);
});

const set = loadRuleSet(RULES);
for (const result of runTestCases(set, RULES)) {
  t.test(`rules/${result.file} - ${result.name}`, async (t) => {
    t.same(result.problems, [], result.problems.join('\n'));
  });
}

t.test(
  'rules - rules/schema.json is generated from the zod schemas (run scripts/render-rule-schema.ts)',
  async (t) => {
    t.equal(readFileSync(join(RULES, 'schema.json'), 'utf8'), ruleFileJsonSchema());
  },
);
