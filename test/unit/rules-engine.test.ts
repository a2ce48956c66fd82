import t from 'tap';
import { conversationActor } from '../../actors/conversation/conversation-actor.js';
import { passThroughGate } from '../../actors/conversation/gate.js';
import type { ConversationState } from '../../actors/conversation/state.js';
import type { Effect } from '../../actors/effects.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { pickVariant } from '../../src/rules/engine.js';
import { compileRuleSet, type RuleSet } from '../../src/rules/rule-set.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const H = 3_600_000;

function rules(files: Record<string, string>): RuleSet {
  return compileRuleSet(Object.entries(files).map(([file, text]) => ({ file, text })));
}

/** Feeds events to the pure transition with an injected clock; collects every effect. */
class Harness {
  state: ConversationState = conversationActor.initial('acme', 'c1');
  seq = 0;
  effects: Effect[] = [];
  constructor(public rules: RuleSet) {}
  apply(type: string, now: number, attributes: Record<string, unknown> = {}): Effect[] {
    const seq = ++this.seq;
    const event: EventEnvelope = {
      schema: 1,
      id: `e${seq}`,
      type,
      tenant: 'acme',
      conversation: 'c1',
      occurredAt: new Date(now).toISOString(),
      attributes,
    };
    const r = conversationActor.transition(this.state, event, {
      seq,
      now,
      rules: this.rules,
      gate: passThroughGate,
    });
    this.state = r.state;
    this.effects.push(...r.effects);
    return r.effects;
  }
  wake(now: number, due = this.state.automation?.wake ?? now): Effect[] {
    return this.apply('timer.wake', now, { due });
  }
}

const JOURNEY = (template: string) => `kind: journey
id: j
entry: { on: start }
steps:
  - id: first
    do: [{ channel: dm, template: first }]
    next: pause
  - id: pause
    delay: 2h
    next: second
  - id: second
    do: [{ channel: dm, template: ${template} }]
    next: end
  - id: end
    exit: true
`;

t.test(
  'engine - a journey delay is a durable timer: a wake effect, then the next step when woken',
  async (t) => {
    const h = new Harness(rules({ 'j.yaml': JOURNEY('second') }));
    const fx = h.apply('start', T0);
    t.same(
      fx.filter((e) => e.type === 'action').map((e) => (e as { template: string }).template),
      ['first'],
    );
    t.same(
      fx.filter((e) => e.type === 'wake'),
      [{ type: 'wake', at: T0 + 2 * H }],
    );
    t.equal(h.state.automation?.journeys?.j?.step, 'pause');
    t.same(
      h.state.automation?.timers?.map((x) => x.at),
      [T0 + 2 * H],
    );

    t.same(
      h.wake(T0 + H, T0 + H).filter((e) => e.type === 'action'),
      [],
      'a wake before the due time fires nothing',
    );
    const fired = h.wake(T0 + 2 * H + 5);
    t.same(
      fired.filter((e) => e.type === 'action').map((e) => (e as { template: string }).template),
      ['second'],
    );
    t.same(
      fired.filter((e) => e.type === 'wake'),
      [{ type: 'wake', at: null }],
      'no timers left: the index entry is cleared',
    );
    t.equal(h.state.automation?.journeys, undefined, 'the run exited');
    t.equal(h.state.automation?.history?.j?.lastExit, 'completed');
    t.same(
      h.wake(T0 + 3 * H, T0 + 2 * H).filter((e) => e.type !== 'audit'),
      [],
      'a repeated (stale) wake is ignored',
    );
  },
);

t.test('engine - runs in flight finish on the journey version they started on', async (t) => {
  const v1 = rules({ 'j.yaml': JOURNEY('second-v1') });
  const v2 = rules({ 'j.yaml': JOURNEY('second-v2') });
  v2.adoptArchive(v1.archive.values());
  const old = new Harness(v1);
  old.apply('start', T0);
  const pinned = old.state.automation!.journeys!.j!.version;
  t.equal(pinned, v1.journeys.get('j')!.version);
  t.not(pinned, v2.journeys.get('j')!.version, 'the definitions differ, so do the versions');
  old.rules = v2; // hot reload
  const fired = old.wake(T0 + 2 * H);
  const action = fired.find((e) => e.type === 'action') as {
    template: string;
    decision: { rulesVersion: string; journey: { version: string } };
  };
  t.equal(action.template, 'second-v1', 'the in-flight run keeps v1');
  t.equal(action.decision.journey.version, pinned);
  t.equal(action.decision.rulesVersion, v1.version, 'the decision records the rule set that started the run');
  const fresh = new Harness(v2);
  fresh.apply('start', T0);
  t.equal(
    (fresh.wake(T0 + 2 * H).find((e) => e.type === 'action') as { template: string }).template,
    'second-v2',
  );

  const orphan = new Harness(v1);
  orphan.apply('start', T0);
  orphan.rules = rules({ 'j.yaml': JOURNEY('second-v3') }); // v1 not archived
  orphan.wake(T0 + 2 * H);
  t.equal(
    orphan.state.automation?.history?.j?.lastExit,
    'version_unavailable',
    'a version that is gone exits, recorded',
  );
});

t.test('engine - A/B variants are weighted, deterministic per conversation and recorded', async (t) => {
  const variants = [
    { id: 'a', weight: 1 },
    { id: 'b', weight: 3 },
  ];
  const picks = Array.from({ length: 4000 }, (_, i) => pickVariant(variants, 'r', 'acme', `c${i}`));
  const share = picks.filter((p) => p === 'b').length / picks.length;
  t.ok(share > 0.7 && share < 0.8, `weights respected (${share})`);
  t.same(
    picks,
    Array.from({ length: 4000 }, (_, i) => pickVariant(variants, 'r', 'acme', `c${i}`)),
    'same input, same pick',
  );
  const set = rules({
    'ab.yaml': `id: ab
on: buy
variants:
  - { id: a, weight: 1, do: [{ channel: dm, template: ta }] }
  - { id: b, weight: 3, do: [{ channel: dm, template: tb }] }
`,
  });
  const h = new Harness(set);
  const first = h.apply('buy', T0).find((e) => e.type === 'action') as {
    template: string;
    decision: { variant: string };
  };
  t.equal(first.decision.variant, pickVariant(variants, 'ab', 'acme', 'c1'));
  t.equal(first.template, `t${first.decision.variant}`);
  t.equal(h.state.automation?.variants?.ab, first.decision.variant, 'sticky assignment kept in state');
});

t.test(
  'engine - detectors: inactivity reset by inbound messages, spend change, failed conversions',
  async (t) => {
    const set = rules({
      'd.yaml': `kind: detectors
inactivity: [{ id: quiet, after: 1d }]
spend: { milestones: [100] }
failed_conversion: { on: payment.failed, threshold: 2, window: 1h }
`,
    });
    const h = new Harness(set);
    h.apply('message.received', T0);
    h.apply('message.received', T0 + 20 * H);
    t.equal(h.state.automation?.wake, T0 + 24 * H, 'the index keeps the earlier wake-up (lazy)');
    const early = h.wake(T0 + 24 * H);
    t.same(
      early.filter((e) => e.type === 'emit'),
      [],
      'reset by the second message: nothing yet',
    );
    t.same(
      early.filter((e) => e.type === 'wake'),
      [{ type: 'wake', at: T0 + 44 * H }],
      're-armed at the real due time',
    );
    const late = h.wake(T0 + 44 * H);
    t.same(
      late.filter((e) => e.type === 'emit'),
      [
        {
          type: 'emit',
          eventType: 'detector.inactive',
          attributes: { detector: 'quiet', after: '1d', lastInboundAt: new Date(T0 + 20 * H).toISOString() },
        },
      ],
    );
    t.equal(h.state.profile?.messagesIn, 2);

    const spend = h.apply('purchase.completed', T0 + 50 * H, { amount: 120 });
    t.match(
      spend.find((e) => e.type === 'emit'),
      { eventType: 'detector.spend_changed', attributes: { previous: 0, total: 120, milestone: 100 } },
    );
    t.equal(h.state.profile?.totalSpend, 120);

    t.same(
      h.apply('payment.failed', T0 + 60 * H).filter((e) => e.type === 'emit'),
      [],
    );
    t.same(
      h.apply('payment.failed', T0 + 62 * H).filter((e) => e.type === 'emit'),
      [],
      'outside the 1h window',
    );
    t.match(
      h.apply('payment.failed', T0 + 62 * H + 1000).find((e) => e.type === 'emit'),
      {
        eventType: 'detector.conversion_failed',
        attributes: { count: 2 },
      },
    );
    h.apply('profile.updated', T0 + 63 * H, { tier: 'gold', totalSpend: 1e9, tz: 'Europe/Paris' });
    t.equal(h.state.profile?.tier, 'gold');
    t.equal(h.state.profile?.totalSpend, 120, 'derived counters cannot be overwritten');
  },
);

t.test('engine - delayed rule actions are timers; the rule set version is on every decision', async (t) => {
  const set = rules({
    'r.yaml':
      'id: later\non: buy\ndo: [{ channel: dm, template: t, delay: 30m, variables: { n: "{{/event/attributes/n}}" } }]\n',
  });
  const h = new Harness(set);
  const now = h.apply('buy', T0, { n: 7 });
  t.same(
    now.filter((e) => e.type === 'action'),
    [],
  );
  const fired = h.wake(T0 + 30 * 60_000);
  t.match(
    fired.find((e) => e.type === 'action'),
    {
      rule: 'later',
      variables: { n: 7 },
      decision: { rulesVersion: set.version, trigger: { eventId: 'e1', type: 'buy', seq: 1 } },
    },
  );
});

t.test('engine - same events and rules give the same states and effects', async (t) => {
  const set = rules({
    'j.yaml': JOURNEY('second'),
    'd.yaml': 'kind: detectors\ninactivity: [{ id: q, after: 1h }]\n',
  });
  const run = () => {
    const h = new Harness(set);
    h.apply('start', T0);
    h.apply('message.received', T0 + 1000);
    h.wake(T0 + 2 * H);
    h.wake(T0 + 3 * H);
    return JSON.stringify([h.state, h.effects]);
  };
  t.equal(run(), run());
});

t.test(
  'conversation actor - approvals travel on the actions; action.sent is asked for only when consumed',
  async (t) => {
    const echo = rules({
      'echo.yaml': `id: echo
on: message.received
do: [{ channel: webhook, template: ack }]
`,
    });
    t.notOk(echo.consumes('action.sent'), 'the echo rule set does not consume action.sent');
    const approvingGate = {
      review: ({ state, proposals }: { state: ConversationState; proposals: Effect[] }) => ({
        state,
        effects: [
          ...proposals,
          {
            type: 'audit' as const,
            kind: 'sent',
            record: {
              stage: 'gate',
              rulesVersion: 'v',
              actions: proposals.map((p, i) => ({ i, p: p.type })),
            },
          },
        ],
      }),
    };
    const event: EventEnvelope = {
      schema: 1,
      id: 'e1',
      type: 'message.received',
      tenant: 'acme',
      conversation: 'c1',
      occurredAt: new Date(T0).toISOString(),
      attributes: {},
    };
    const r = conversationActor.transition(conversationActor.initial('acme', 'c1'), event, {
      seq: 1,
      now: T0,
      rules: echo,
      gate: approvingGate as never,
    });
    t.same(
      r.effects.map((e) => e.type),
      ['action'],
      'no separate audit effect for the approval',
    );
    t.match(r.effects[0], {
      type: 'action',
      approval: { stage: 'gate', rulesVersion: 'v', action: { i: 0, p: 'action' } },
    });
    t.notOk((r.effects[0] as { reportSent?: boolean }).reportSent, 'no outcome event asked for');
    t.equal(r.state.profile?.messagesOut, 1, 'outbound counted at approval');
    t.equal(r.state.profile?.lastOutboundAt, new Date(T0).toISOString());

    const waiting = rules({
      'echo.yaml': `id: echo
on: message.received
do: [{ channel: webhook, template: ack }]
`,
      'after.yaml': `id: after-send
on: action.sent
do: [{ channel: webhook, template: followup }]
`,
    });
    t.ok(waiting.consumes('action.sent'));
    const w = conversationActor.transition(conversationActor.initial('acme', 'c1'), event, {
      seq: 1,
      now: T0,
      rules: waiting,
      gate: passThroughGate,
    });
    t.match(w.effects[0], { type: 'action', reportSent: true }, 'consumed: the outcome is asked for');
    const failed = conversationActor.transition(
      w.state,
      { ...event, id: 'e1.failed', type: 'action.failed', attributes: {} },
      { seq: 2, now: T0 + 1, rules: waiting, gate: passThroughGate },
    );
    t.equal(failed.state.profile?.messagesOut, 0, 'a failed send takes its count back');
  },
);
