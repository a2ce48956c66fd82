import { join } from 'node:path';
import t from 'tap';
import { conversationActor } from '../../actors/conversation/conversation-actor.js';
import { passThroughGate } from '../../actors/conversation/gate.js';
import type { ConversationState } from '../../actors/conversation/state.js';
import { webhookBody } from '../../src/connectors/channels/webhook.js';
import { outcomeEvent } from '../../src/connectors/messages.js';
import type { ActionMessage } from '../../src/contracts/action.js';
import type { ActionEffect, AuditEffect, Effect } from '../../src/contracts/effects.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { ConfigError } from '../../src/errors/app-error.js';
import { compileRuleSet, loadRuleSet, type RuleSet } from '../../src/rules/rule-set.js';
import { runTestCases } from '../../src/rules/test-cases.js';
import { effectToMessage } from '../../src/runtime/outbound.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;
const FIXTURE = join(import.meta.dirname, '../fixtures/rules-windows');

function rules(files: Record<string, string>): RuleSet {
  return compileRuleSet(Object.entries(files).map(([file, text]) => ({ file, text })));
}

/** The pure transition with an injected clock (the event's stream time); every effect collected. */
class Harness {
  state: ConversationState = conversationActor.initial('acme', 'c1');
  seq = 0;
  effects: Effect[] = [];
  constructor(public rules: RuleSet) {}
  apply(type: string, now: number, attributes: Record<string, unknown> = {}, id?: string): Effect[] {
    const seq = ++this.seq;
    const event: EventEnvelope = {
      schema: 1,
      id: id ?? `e${seq}`,
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
  /** The timer wheel's wake-up at the indexed due time (as the runtime publishes it). */
  wake(now?: number): Effect[] {
    const due = this.state.automation?.wake;
    if (due === undefined) return [];
    return this.apply('timer.wake', now ?? due, { due }, `wake.${due}`);
  }
  /** Wakes up until nothing is pending (an indexed wake-up may be early: it then re-arms). */
  wakeAll(): Effect[] {
    const out: Effect[] = [];
    for (let i = 0; i < 20 && this.state.automation?.wake !== undefined; i++) out.push(...this.wake());
    return out;
  }
  /** A crash and restart: the state as stored (msgpack) is all that survives. */
  restart(): void {
    this.state = decodeMsgpack(encode(this.state)) as ConversationState;
  }
}

const actions = (fx: Effect[]) => fx.filter((e): e is ActionEffect => e.type === 'action');
const audits = (fx: Effect[], kind: string) =>
  fx.filter((e): e is AuditEffect => e.type === 'audit' && e.kind === kind).map((e) => e.record);

const DEBOUNCE = `id: burst
on: message.received
debounce: { window: 3s, max: 10s }
do: [{ channel: webhook, template: ack, variables: { n: "{{/event/attributes/n}}" } }]
`;

t.test('debounce - 20 messages in one second: one send after the burst, carrying the last', async (t) => {
  const h = new Harness(rules({ 'r.yaml': DEBOUNCE }));
  for (let n = 1; n <= 20; n++) t.same(actions(h.apply('message.received', T0 + n * 50, { n })), []);
  t.equal(
    h.state.automation?.windows?.burst?.events.length,
    1,
    'a debounce window keeps the last event only',
  );
  t.same(actions(h.wake(T0 + 3 * S)), [], 'an early wake-up (the index is lazy) sends nothing');
  const fx = h.wake();
  const sent = actions(fx);
  t.equal(sent.length, 1, 'one send');
  t.equal(h.state.automation?.wake, undefined, 'nothing pending');
  t.equal(sent[0]!.variables.n, 20, 'rendered on the last event');
  t.same(sent[0]!.event, { id: 'e20', type: 'message.received', attributes: { n: 20 }, seq: 20 });
  t.same(sent[0]!.decision?.trigger, { eventId: 'e20', type: 'message.received', seq: 20 });
  t.same(audits(fx, 'window')[0]?.count, 1);
  t.equal(h.state.automation?.windows, undefined, 'the window is closed');
  t.same(actions(h.wake(T0 + 60 * S)), [], 'sent once');
});

t.test('debounce - a burst that never settles is sent at max, then a new window opens', async (t) => {
  const h = new Harness(rules({ 'r.yaml': DEBOUNCE }));
  const sent: ActionEffect[] = [];
  // One message every 2 s for 14 s: the window (3 s) never elapses, max (10 s) does.
  for (let n = 0; n <= 7; n++) sent.push(...actions(h.apply('message.received', T0 + n * 2 * S, { n })));
  t.same(
    sent.map((a) => a.variables.n),
    [4],
    'at max (10 s): the message at 10 s comes after the timer, which fires first',
  );
  sent.push(...actions(h.wakeAll()));
  t.same(
    sent.map((a) => a.variables.n),
    [4, 7],
    'the next burst (from the message at 10 s) settles 3 s after its last',
  );
});

t.test('debounce - without max a burst is sent only once it pauses for the window', async (t) => {
  const h = new Harness(
    rules({ 'r.yaml': DEBOUNCE.replace('debounce: { window: 3s, max: 10s }', 'debounce: { window: 3s }') }),
  );
  for (let n = 0; n < 30; n++) t.same(actions(h.apply('message.received', T0 + n * 2 * S, { n })), []);
  t.same(
    actions(h.wakeAll()).map((a) => a.variables.n),
    [29],
  );
});

const DIGEST = `id: comments
on: comment.created
digest: { window: 4s, max_events: 3 }
do: [{ channel: webhook, template: digest, variables: { count: "{{/digest/count}}", ids: "{{/digest/events}}" } }]
`;

t.test('digest - one send listing every collected event once; at max_events it closes at once', async (t) => {
  const h = new Harness(rules({ 'r.yaml': DIGEST.replace('max_events: 3', 'max_events: 100') }));
  for (let n = 1; n <= 5; n++) h.apply('comment.created', T0 + n * 100, { n }, `k${n}`);
  t.equal(h.state.automation?.wake, T0 + 100 + 4 * S, 'the window closes 4 s after its first event');
  const sent = actions(h.wake());
  t.equal(sent.length, 1);
  const d = sent[0]!.digest!;
  t.equal(d.count, 5);
  t.same(
    d.events.map((e) => [e.id, e.type, e.attributes.n]),
    [1, 2, 3, 4, 5].map((n) => [`k${n}`, 'comment.created', n]),
  );
  t.equal(d.events[0]!.occurredAt, new Date(T0 + 100).toISOString());
  t.equal(sent[0]!.variables.count, 5, '/digest is addressable by variables');
  t.equal((sent[0]!.variables.ids as unknown[]).length, 5);
  t.equal(sent[0]!.event?.id, 'k5', 'its event is the last collected');

  const capped = new Harness(rules({ 'r.yaml': DIGEST }));
  const out: ActionEffect[] = [];
  for (let n = 1; n <= 7; n++)
    out.push(...actions(capped.apply('comment.created', T0 + n * 10, { n }, `k${n}`)));
  t.same(
    out.map((a) => a.digest!.events.map((e) => e.id)),
    [
      ['k1', 'k2', 'k3'],
      ['k4', 'k5', 'k6'],
    ],
    'full digests sent as they fill',
  );
  out.push(...actions(capped.wakeAll()));
  t.same(
    out.map((a) => a.digest!.count),
    [3, 3, 1],
    'the remainder at the window end; every event exactly once',
  );
  t.equal(capped.state.automation, undefined, 'no window, no timer: no empty digest is ever sent');
});

t.test('digest - large events close the window early, before the state outgrows a message', async (t) => {
  const h = new Harness(rules({ 'r.yaml': DIGEST.replace('max_events: 3', 'max_events: 1000') }));
  const text = 'x'.repeat(30_000);
  const sent: ActionEffect[] = [];
  for (let n = 1; n <= 20; n++)
    sent.push(...actions(h.apply('comment.created', T0 + n, { n, text }, `k${n}`)));
  t.equal(sent.length, 2, 'two digests before the window ends');
  t.same(
    sent.map((a) => a.digest!.count),
    [9, 9],
    'each closed as its attributes passed 256 KiB',
  );
  t.match(audits(h.effects, 'window'), [
    { why: 'max_bytes', count: 9 },
    { why: 'max_bytes', count: 9 },
  ]);
  t.equal(h.state.automation?.windows?.comments?.events.length, 2, 'the rest stays collected');
});

t.test('digest - a restart mid-window (state from the store) sends the same digest once', async (t) => {
  const straight = new Harness(rules({ 'r.yaml': DIGEST.replace('max_events: 3', 'max_events: 100') }));
  const crashed = new Harness(straight.rules);
  for (let n = 1; n <= 5; n++) {
    straight.apply('comment.created', T0 + n * 100, { n }, `k${n}`);
    crashed.apply('comment.created', T0 + n * 100, { n }, `k${n}`);
    if (n === 3) crashed.restart();
  }
  crashed.restart();
  t.same(crashed.state, straight.state, 'the window is in the conversation state');
  const a = actions(straight.wake());
  const b = actions(crashed.wake());
  t.same(b, a);
  t.equal(b[0]!.digest!.count, 5);
});

const REMINDER = `id: cart-reminder
on: cart.abandoned
cancel_on: { on: purchase.completed, when: { /event/attributes/cart: { eq: "{{/trigger/attributes/cart}}" } } }
do: [{ channel: webhook, template: reminder, delay: 5s }]
`;

t.test('cancel_on - a purchase of the cart cancels the pending reminder (audited)', async (t) => {
  const h = new Harness(rules({ 'r.yaml': REMINDER }));
  h.apply('cart.abandoned', T0, { cart: 'A' });
  h.apply('cart.abandoned', T0 + 100, { cart: 'B', items: ['x', 'y'], note: 'long' });
  const fx = h.apply('purchase.completed', T0 + 2 * S, { cart: 'A', amount: 5 });
  t.match(audits(fx, 'cancel'), [
    {
      rule: 'cart-reminder',
      outcome: 'cancelled',
      pending: 'delay',
      due: new Date(T0 + 5 * S).toISOString(),
      cancelledBy: { type: 'purchase.completed', seq: 3 },
    },
  ]);
  t.equal(audits(fx, 'cancel').length, 1, "the other cart's reminder stays");
  t.same(
    h.state.automation?.timers?.map((x) => x.trigger?.attributes),
    [{ cart: 'B' }],
    'a pending reminder keeps only the trigger attributes its cancel reads',
  );
  const sent = [...actions(h.wake()), ...actions(h.wake())];
  t.equal(sent.length, 1, 'only the reminder of cart B is sent');
  t.equal(sent[0]!.decision?.trigger?.seq, 2);
  t.same(actions(h.wake(T0 + 60 * S)), [], 'once');
});

t.test(
  'cancel_on - racing the timer: earlier wins, the same millisecond loses; the audit says which',
  async (t) => {
    const early = new Harness(rules({ 'r.yaml': REMINDER }));
    early.apply('cart.abandoned', T0, { cart: 'A' });
    const a = early.apply('purchase.completed', T0 + 5 * S - 1, { cart: 'A' });
    t.same(actions(a), []);
    t.equal(audits(a, 'cancel')[0]?.outcome, 'cancelled', '1 ms before the due time: cancelled');
    t.same(actions(early.wake()), [], 'and nothing is sent');

    // The wake-up is still on its way when the purchase arrives at the due time: the timer fires first.
    const tie = new Harness(rules({ 'r.yaml': REMINDER }));
    tie.apply('cart.abandoned', T0, { cart: 'A' });
    const b = tie.apply('purchase.completed', T0 + 5 * S, { cart: 'A' });
    t.equal(actions(b).length, 1, 'the reminder fires, before the purchase');
    t.match(audits(b, 'cancel'), [
      { outcome: 'too_late', pending: 'delay', due: new Date(T0 + 5 * S).toISOString() },
    ]);
    t.same(actions(tie.wake()), [], 'the late wake-up sends nothing more');

    // The same race with the wake-up applied first: the same decision.
    const wakeFirst = new Harness(rules({ 'r.yaml': REMINDER }));
    wakeFirst.apply('cart.abandoned', T0, { cart: 'A' });
    const c = [...wakeFirst.wake(), ...wakeFirst.apply('purchase.completed', T0 + 5 * S, { cart: 'A' })];
    t.equal(actions(c).length, 1);
    t.same(
      actions(c).map((x) => x.template),
      actions(b).map((x) => x.template),
    );
  },
);

t.test('cancel_on - cancels an open debounce or digest window; nothing is sent', async (t) => {
  const h = new Harness(
    rules({
      'd.yaml': `${DIGEST}cancel_on: { on: conversation.closed }\n`,
      'b.yaml': `${DEBOUNCE}cancel_on: [{ on: conversation.closed }]\n`,
    }),
  );
  h.apply('comment.created', T0, {}, 'k1');
  h.apply('message.received', T0 + 10, { n: 1 });
  const fx = h.apply('conversation.closed', T0 + S);
  t.same(
    audits(fx, 'cancel')
      .map((r) => [r.rule, r.pending, r.outcome])
      .sort(),
    [
      ['burst', 'debounce', 'cancelled'],
      ['comments', 'digest', 'cancelled'],
    ],
  );
  t.equal(h.state.automation?.windows, undefined);
  t.same(actions(h.wake()), []);
  t.same(actions(h.wake(T0 + 60 * S)), []);
});

const TRIAL = `kind: journey
id: trial
entry: { on: trial.started }
exit_on: { on: subscription.created, when: { /event/attributes/plan: { eq: "{{/trigger/attributes/plan}}" } } }
steps:
  - id: pause
    delay: 1h
    next: nudge
  - id: nudge
    do: [{ channel: webhook, template: nudge }]
    next: listen
  - id: listen
    wait: { for: message.received, timeout: 1d }
    cancel_on: { on: fan.opted_out }
    on_event: done
    on_timeout: done
  - id: done
    exit: true
`;

t.test('journeys - exit_on ends a run wherever it is; step cancel_on ends it at that step', async (t) => {
  const h = new Harness(rules({ 'j.yaml': TRIAL }));
  h.apply('trial.started', T0, { plan: 'gold', source: 'ad' });
  t.same(
    h.state.automation?.journeys?.trial?.trigger?.attributes,
    { plan: 'gold' },
    'the run keeps what its exits read',
  );
  t.same(audits(h.apply('subscription.created', T0 + S, { plan: 'silver' }), 'journey'), [], 'another plan');
  const fx = h.apply('subscription.created', T0 + 2 * S, { plan: 'gold' });
  t.match(audits(fx, 'journey'), [
    { journey: 'trial', path: ['pause'], outcome: 'exited:exit_on:subscription.created' },
  ]);
  t.equal(h.state.automation?.timers, undefined, 'its timer is cancelled');
  t.equal(h.state.automation?.history?.trial?.lastExit, 'exit_on:subscription.created');
  t.equal(h.state.automation?.journeys, undefined);
  t.same(actions(h.wake(T0 + 2 * 3_600_000)), []);

  const c = new Harness(rules({ 'j.yaml': TRIAL }));
  c.apply('trial.started', T0, { plan: 'gold' });
  t.equal(actions(c.wake()).length, 1, 'the nudge');
  const out = c.apply('fan.opted_out', T0 + 2 * 3_600_000);
  t.match(audits(out, 'journey'), [{ path: ['listen'], outcome: 'exited:cancelled:listen' }]);
  t.same(audits(c.apply('fan.opted_out', T0 + 3 * 3_600_000), 'journey'), [], 'no run, nothing to cancel');
});

t.test(
  'journeys - a delay due in the same millisecond as exit_on fires first, then the run exits',
  async (t) => {
    const h = new Harness(rules({ 'j.yaml': TRIAL }));
    h.apply('trial.started', T0, { plan: 'gold' });
    const fx = h.apply('subscription.created', T0 + 3_600_000, { plan: 'gold' });
    t.same(
      actions(fx).map((a) => a.template),
      ['nudge'],
    );
    t.same(
      audits(fx, 'journey').map((r) => r.outcome),
      ['waiting', 'exited:exit_on:subscription.created'],
    );
  },
);

t.test('engine - same events, same decisions (windows, cancels, exits are replayable)', async (t) => {
  const set = rules({ 'b.yaml': DEBOUNCE, 'd.yaml': DIGEST, 'r.yaml': REMINDER, 'j.yaml': TRIAL });
  const run = () => {
    const h = new Harness(set);
    h.apply('trial.started', T0, { plan: 'gold' });
    for (let n = 0; n < 10; n++) {
      h.apply('message.received', T0 + n * 300, { n });
      h.apply('comment.created', T0 + n * 300 + 1, { n });
    }
    h.apply('cart.abandoned', T0 + 4 * S, { cart: 'A' });
    h.wake();
    h.apply('purchase.completed', T0 + 9 * S, { cart: 'A' });
    h.wake();
    h.wake();
    return { state: h.state, effects: h.effects };
  };
  const a = run();
  t.same(run(), a);
  t.ok(actions(a.effects).length >= 3, 'it decided something');
});

t.test(
  'actions - digest and last event reach the action message, the webhook body and the outcome',
  async (t) => {
    const event: EventEnvelope = {
      schema: 1,
      id: 'wake.1',
      type: 'timer.wake',
      tenant: 'acme',
      conversation: 'c1',
      occurredAt: new Date(T0).toISOString(),
      attributes: { due: T0 },
    };
    const digest = {
      count: 1,
      events: [
        { id: 'k1', type: 'comment.created', occurredAt: new Date(T0).toISOString(), attributes: { n: 1 } },
      ],
    };
    const msg = effectToMessage(
      {
        type: 'action',
        channel: 'webhook',
        rule: 'comments',
        template: 'digest',
        variables: {},
        decision: {
          rulesVersion: 'v1',
          variant: 'b',
          trigger: { eventId: 'k1', type: 'comment.created', seq: 4 },
        },
        event: { id: 'k1', type: 'comment.created', attributes: { n: 1 }, seq: 4 },
        digest,
      },
      event,
      9,
      0,
      T0,
      0,
    );
    const action = decodeMsgpack(msg.data) as ActionMessage;
    t.same(action.digest, digest);
    t.same(action.event, { id: 'k1', type: 'comment.created', attributes: { n: 1 }, seq: 4 });
    t.equal(action.id, 'acme.c1.9.0', 'the id still derives from the evaluated event');
    const body = JSON.parse(webhookBody(action)) as Record<string, unknown>;
    t.same(body.digest, digest);
    t.same(body.event, { id: 'k1', type: 'comment.created', attributes: { n: 1 } });
    t.same(body.decision, { rulesVersion: 'v1', variant: 'b' });
    const journeyAction = {
      ...action,
      decision: { rulesVersion: 'v1', journey: { id: 'j', version: 'h', step: 's' } },
    };
    t.same((JSON.parse(webhookBody(journeyAction)) as Record<string, unknown>).decision, {
      rulesVersion: 'v1',
      journey: { id: 'j', version: 'h', step: 's' },
    });
    const sent = decodeMsgpack(
      outcomeEvent(action, { type: 'action.sent', deliveryId: 'd', status: 'delivered', attempts: 1 }, T0)
        .data,
    ) as EventEnvelope;
    t.match(sent.attributes, { rulesVersion: 'v1', variant: 'b', rule: 'comments' });
    const journeySent = decodeMsgpack(
      outcomeEvent(
        journeyAction,
        { type: 'action.sent', deliveryId: 'd', status: 'delivered', attempts: 1 },
        T0,
      ).data,
    ) as EventEnvelope;
    t.match(journeySent.attributes, { rulesVersion: 'v1', journey: 'j', journeyVersion: 'h', step: 's' });
  },
);

t.test('schema - windows and cancels are checked where they are written', async (t) => {
  const issues = (text: string) => {
    try {
      rules({ 'x.yaml': text });
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };
  t.match(issues(`${DEBOUNCE}digest: { window: 1s }\n`), [
    /digest: a rule takes `debounce` or `digest`, not both/,
  ]);
  t.match(issues(DEBOUNCE.replace('max: 10s', 'max: 1s')), [/debounce.max: `max` must be at least `window`/]);
  t.match(issues(DEBOUNCE.replace('template: ack', 'template: ack, delay: 1s')), [
    /do.0.delay: a debounced rule/,
  ]);
  t.same(issues(REMINDER), []);
  t.match(issues(REMINDER.replace('/trigger/attributes/cart', '/triger/x')), [
    /cancel_on.when.\/event\/attributes\/cart: "\{\{\/triger\/x\}\}" must read one of/,
  ]);
  t.match(issues(REMINDER.replace('/event/attributes/cart:', '/bogus/cart:')), [/cancel_on.when/]);
  t.match(
    issues(`id: r\non: a\nwhen: { /trigger/x: 1 }\ndo: [{ channel: webhook, template: t }]\n`),
    [/must start with one of/],
    '/trigger is only a root in cancel_on',
  );
  t.match(
    issues(
      TRIAL.replace(
        '    do: [{ channel: webhook, template: nudge }]',
        '    do: [{ channel: webhook, template: nudge }]\n    cancel_on: { on: x }',
      ),
    ),
    [/steps.1.cancel_on: `cancel_on` applies to delay and wait steps/],
  );
  t.ok(rules({ 'r.yaml': REMINDER }).consumes('purchase.completed'), 'a cancelling type is consumed');
  t.ok(rules({ 'j.yaml': TRIAL }).consumes('fan.opted_out'));
});

const fixtureSet = loadRuleSet(FIXTURE);
for (const result of runTestCases(fixtureSet, FIXTURE)) {
  t.test(`rules test - ${result.name}`, async (t) => {
    t.same(result.problems, [], result.problems.join('\n'));
  });
}
