import t from 'tap';
import { ConfigError } from '../../src/errors/app-error.js';
import { compileRuleSet } from '../../src/rules/rule-set.js';

function issuesOf(files: Record<string, string>): string[] {
  try {
    compileRuleSet(Object.entries(files).map(([file, text]) => ({ file, text })));
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const journey = (steps: string, extra = '') => `kind: journey
id: j
entry:
  on: follow.back
${extra}steps:
${steps}`;

t.test('journey - a valid journey compiles to a DAG with a version', async (t) => {
  const set = compileRuleSet([
    {
      file: 'j.yaml',
      text: journey(`  - id: dm
    do: [{ channel: dm, template: hi }]
    next: wait
  - id: wait
    wait: { for: message.received, timeout: 48h }
    on_event: done
    on_timeout: done
  - id: done
    exit: true
`),
    },
  ]);
  const j = set.journeys.get('j')!;
  t.equal(j.start, 'dm');
  t.match(j.version, /^[0-9a-f]{12}$/);
  t.same([...j.steps.keys()], ['dm', 'wait', 'done']);
});

t.test('journey - every compile-time check, all reported at once with file, line and field', async (t) => {
  const issues = issuesOf({
    'a.yaml': journey(`  - id: dm
    do: [{ channel: dm, template: hi }]
    next: nowhere
  - id: wait
    wait: { for: message.received, timeout: 48h }
    on_event: dm
  - id: end
    exit: true
`),
    'b.yaml': journey(`  - id: one
    do: [{ channel: dm, template: hi }]
    next: two
  - id: two
    delay: 1h
    next: one
  - id: out
    exit: true
`),
    'c.yaml': `kind: journey
id: c
entry: { on: x }
steps:
  - id: s
    do: [{ channel: dm, template: hi }]
    delay: 1h
    next: s
`,
    'd.yaml': `kind: journey
id: d
entry: { on: x }
start: missing
steps:
  - id: a
    wait: { for: y, timeout: 5m, when: { /segments/nope: true } }
    on_event: b
    on_timeout: b
    next: b
  - id: b
    branch:
      - when: { /event/attributes/x: 1 }
        next: ghost
    otherwise: a
`,
  });
  const text = issues.join('\n');
  t.match(text, /a\.yaml:8 steps\.0\.next: target step "nowhere" does not exist/);
  t.match(text, /a\.yaml:9 steps\.1\.on_timeout: every wait needs a timeout branch/);
  t.match(text, /b\.yaml:\d+ steps\.\d: unbounded cycle (one -> two -> one|two -> one -> two)/);
  t.match(text, /b\.yaml:\d+ steps\.2\.id: step "out" is unreachable/);
  t.match(
    text,
    /c\.yaml:5 steps\.0: a step is exactly one of do, delay, wait, branch, exit \(found do and delay\)/,
  );
  t.match(text, /d\.yaml:\d+ steps\.0\.wait\.when\.\/segments\/nope: unknown segment "nope"/);
  t.match(text, /d\.yaml:\d+ steps\.0\.next: `next` does not apply to a wait step/);
  t.match(text, /d\.yaml:\d+ steps\.1\.branch\.0\.next: target step "ghost" does not exist/);
  t.match(text, /d\.yaml:\d+ start: start step "missing" does not exist/);
});

t.test('journey - a loop bounded by max_visits is accepted; one with no exit is not', async (t) => {
  t.same(
    issuesOf({
      'loop.yaml': journey(`  - id: nudge
    do: [{ channel: dm, template: nudge }]
    max_visits: 3
    next: wait
  - id: wait
    wait: { for: message.received, timeout: 1d }
    on_event: done
    on_timeout: nudge
  - id: done
    exit: true
`),
    }),
    [],
  );
  const noExit = issuesOf({
    'x.yaml': journey(`  - id: a
    delay: 1h
    next: a
`),
  });
  t.match(noExit.join('\n'), /unbounded cycle a -> a/);
  t.match(noExit.join('\n'), /no exit step/);
});

t.test(
  'rules - schema errors name file, line and field, and unknown keys and kinds are errors',
  async (t) => {
    const issues = issuesOf({
      'r.yaml': `id: r
on: message.received
when:
  /event/attributes/x: { equals: 1 }
do:
  - channel: dm
    templat: x
`,
      'k.yaml': 'kind: workflow\nid: k\n',
      's.yaml': 'kind: schedule\nid: s\ncron: "not a cron"\nevent: x\ntimezone: Mars/Base\n',
      'v.yaml': 'id: v\non: x\ndo: [{ channel: dm, template: a, variables: { a: "{{/nope/x}}" } }]\n',
    });
    const text = issues.join('\n');
    t.match(text, /r\.yaml:4 when\.\/event\/attributes\/x/);
    t.match(text, /r\.yaml:\d+ do\.0/);
    t.match(text, /k\.yaml:1 kind: unknown kind "workflow"/);
    t.match(text, /s\.yaml:3 cron: invalid cron expression/);
    t.match(text, /s\.yaml:5 timezone: unknown time zone "Mars\/Base"/);
    t.match(text, /v\.yaml:3 do\.0\.variables/);
  },
);
