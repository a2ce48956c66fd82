import t from 'tap';
import type { SnapshotView } from '../../actors/conversation/gate.js';
import type { ConversationState } from '../../actors/conversation/state.js';
import { SafetySchema } from '../../src/config/safety-schema.js';
import type { ActionMessage } from '../../src/contracts/action.js';
import type { ActionEffect, Effect } from '../../src/contracts/effects.js';
import type { EventEnvelope } from '../../src/contracts/envelope.js';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { conversationActor } from '../../src/rules/conversation-actor.js';
import { compileRuleSet } from '../../src/rules/rule-set.js';
import { effectToMessage } from '../../src/runtime/outbound.js';
import { confirmationId, OPT_OUT_CONFIRMATION_RULE } from '../../src/safety/opt-out-confirmation.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { SafetyPreSendGate } from '../../src/safety/pre-send-gate.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const CONFIRM = { confirmation: { channel: 'webhook', text: 'You are unsubscribed.' } };
const ECHO = compileRuleSet([
  {
    file: 'echo.yaml',
    text: 'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack\n',
  },
]);

class Snap implements SnapshotView {
  readonly m = new Map<string, Record<string, unknown>>();
  get(k: string) {
    return this.m.get(k);
  }
}

function policy(
  safety: Record<string, unknown> = { optOut: CONFIRM },
  tenants: Record<string, unknown> = {},
) {
  return new SafetyPolicy(SafetySchema.parse(safety), tenants as never);
}

/** Folds events through the conversation actor (the echo rule + the real gate), as the runtime does. */
function fold(p = policy()) {
  const gate = createSafetyGate(p);
  const switches = { control: new Snap(), consent: new Snap() };
  let state: ConversationState = conversationActor.initial('acme', 'c1');
  let seq = 0;
  let n = 0;
  const message = (text: string, extra: Record<string, unknown> = {}): EventEnvelope => ({
    schema: 1,
    id: `m${++n}`,
    type: 'message.received',
    tenant: 'acme',
    conversation: 'c1',
    occurredAt: new Date(T0 + n * 1000).toISOString(),
    attributes: { text, ...extra },
  });
  const apply = (event: EventEnvelope, at: ConversationState = state) => {
    seq++;
    const r = conversationActor.transition(at, event, {
      seq,
      now: T0 + seq * 1000,
      rules: ECHO,
      gate,
      switches,
    });
    // What the runtime publishes: subjects, message IDs, bodies.
    const messages = r.effects
      .filter((e) => e.type !== 'wake')
      .map((e, i) => ({ effect: e, message: effectToMessage(e, event, seq, i, T0 + seq * 1000, 0) }));
    return { state: r.state, effects: r.effects, messages };
  };
  return {
    switches,
    get state() {
      return state;
    },
    message,
    apply,
    step(text: string, extra?: Record<string, unknown>) {
      const r = apply(message(text, extra));
      state = r.state;
      // The store effects reach parley-consent; the gate's next event sees them through the watch.
      for (const e of r.effects)
        if (e.type === 'store' && e.bucket === 'parley-consent' && e.value)
          switches.consent.m.set(e.key, e.value);
      return r;
    },
  };
}

const actions = (fx: Effect[]) => fx.filter((e): e is ActionEffect => e.type === 'action');
const audit = (fx: Effect[], kind: string) =>
  fx.find((e) => e.type === 'audit' && e.kind === kind) as { record: Record<string, any> } | undefined;

t.test(
  'opt-out confirmation - STOP sends exactly one confirmation; nothing after, a second STOP included',
  async (t) => {
    const f = fold();
    t.same(
      actions(f.step('hi').effects).map((a) => a.rule),
      ['echo'],
      'a reply before the opt-out',
    );

    const stop = f.step('STOP');
    const sent = actions(stop.effects);
    t.same(
      sent.map((a) => a.rule),
      [OPT_OUT_CONFIRMATION_RULE],
      'the echo is blocked, the confirmation goes',
    );
    const [c] = sent;
    t.match(c, {
      channel: 'webhook',
      template: 'opt-out-confirmation',
      variables: { text: 'You are unsubscribed.' },
      optOutConfirmation: { eventId: 'm2' },
      id: confirmationId('acme', 'c1', 'm2'),
    });
    const approval = c!.approval as {
      action: { guards: Array<{ guard: string; verdict: string; detail?: unknown }> };
    };
    t.match(
      approval.action.guards.find((g) => g.guard === 'consent'),
      { verdict: 'allow', detail: { exempt: 'opt-out-confirmation' } },
      'it passes the consent guard as the confirmation of this opt-out, and the decision says so',
    );
    t.match(audit(stop.effects, 'opt-out')?.record, { confirmation: { action: c!.id, channel: 'webhook' } });
    t.match(audit(stop.effects, 'compliance-blocked')?.record.actions, [{ rule: 'echo', reason: 'dnd' }]);

    // On ACTIONS: the ID is derived from the opt-out event, the marker travels to the connector.
    const m = stop.messages.find((x) => x.effect === c)!.message;
    t.equal(m.msgId, confirmationId('acme', 'c1', 'm2'));
    t.match(decodeMsgpack(m.data) as ActionMessage, { id: m.msgId, optOutConfirmation: { eventId: 'm2' } });

    t.same(actions(f.step('are you there?').effects), [], 'a later message sends nothing');
    const again = f.step('stop');
    t.same(actions(again.effects), [], 'a second STOP while opted out sends nothing more');
    t.match(audit(again.effects, 'opt-out')?.record, { already: true });
    t.notOk(
      again.effects.some((e) => e.type === 'store' && e.bucket === 'parley-consent'),
      'and leaves the first opt-out record (the one its confirmation answers) as it was',
    );
    t.same(actions(f.step('unsubscribe me please').effects), [], 'nor does an opt-out in other words');
  },
);

t.test(
  'opt-out confirmation - the same opt-out decided again is the same send (redelivery, another sequence)',
  async (t) => {
    const f = fold();
    f.step('hello');
    const before = f.state;
    const stop = f.message('remove my number');
    const first = f.apply(stop, before);
    const redelivered = f.apply(stop, before); // state not committed: the event is applied again, at a new seq
    const id = (r: typeof first) => r.messages.find((x) => x.effect.type === 'action')?.message.msgId;
    t.ok(id(first), 'a natural-language opt-out is confirmed too');
    t.equal(
      id(redelivered),
      id(first),
      'the same action ID: ACTIONS and the execution record drop the second',
    );
    t.match(redelivered.state.safety?.consent, { dnd: true, source: 'opt-out', eventId: stop.id });
    const replayed = f.apply(stop, first.state); // the same event once more after its state was committed
    t.same(actions(replayed.effects), [], 'after it was committed, the same opt-out sends nothing');
  },
);

t.test('opt-out confirmation - other languages, spelled-out and leet opt-outs are confirmed', async (t) => {
  for (const text of [
    'PARAR',
    'no me envíen más mensajes',
    'ARRET',
    'keine Nachrichten mehr',
    's t o p',
    'st0p',
  ]) {
    const f = fold();
    t.same(
      actions(f.step(text).effects).map((a) => a.rule),
      [OPT_OUT_CONFIRMATION_RULE],
      text,
    );
  }
});

t.test('opt-out confirmation - never for a crisis-flagged message, nor while escalated', async (t) => {
  const f = fold();
  const r = f.step('stop texting me, i want to kill myself');
  t.same(actions(r.effects), [], 'no automated message: the crisis escalation wins');
  t.ok(
    r.effects.some((e) => e.type === 'escalate'),
    'escalated',
  );
  t.match(audit(r.effects, 'opt-out')?.record, { confirmation: { skipped: 'crisis' } });

  const g = fold();
  g.step('I know where you live');
  const s = g.step('STOP');
  t.same(actions(s.effects), [], 'an open escalation: a human handles the conversation');
  t.match(audit(s.effects, 'opt-out')?.record, { confirmation: { skipped: 'escalated' } });
});

t.test(
  'opt-out confirmation - none unless configured; per tenant; default channel is the message one',
  async (t) => {
    const off = fold(policy({}));
    t.same(actions(off.step('STOP').effects), [], 'not configured: DND and silence, as before');
    t.match(audit(off.step('hi').effects, 'compliance-blocked'), { record: {} });

    const perTenant = fold(
      policy(
        {},
        { acme: { safety: { optOut: { confirmation: { template: 'bye', text: 'Unsubscribed.' } } } } },
      ),
    );
    const r = perTenant.step('STOP', { channel: 'sms' });
    t.match(actions(r.effects), [{ channel: 'sms', template: 'bye', variables: { text: 'Unsubscribed.' } }]);

    const disabled = fold(
      policy({ optOut: CONFIRM }, { acme: { safety: { optOut: { confirmation: false } } } }),
    );
    t.same(actions(disabled.step('STOP').effects), [], 'false turns the default off for a tenant');

    const noChannel = fold(policy({ optOut: { confirmation: { text: 'x' } } }));
    const n = noChannel.step('STOP');
    t.same(actions(n.effects), []);
    t.match(audit(n.effects, 'opt-out')?.record, { confirmation: { skipped: 'no-channel' } });
  },
);

t.test('opt-out confirmation - a kill switch still blocks it; an operator DND is not passed', async (t) => {
  const f = fold();
  f.switches.control.m.set('tenant.acme', { mode: 'kill' });
  const r = f.step('STOP');
  t.same(actions(r.effects), [], 'killed');
  t.match(audit(r.effects, 'compliance-blocked')?.record.actions, [
    { rule: 'echo' },
    { rule: OPT_OUT_CONFIRMATION_RULE },
  ]);

  const g = fold();
  g.switches.consent.m.set('acme.c1', { dnd: true, source: 'operator', eventId: 'op-1' });
  const s = g.step('STOP');
  t.same(
    actions(s.effects),
    [],
    'DND set by an operator before: not this opt-out, so no confirmation passes it',
  );
});

t.test('opt-out confirmation - a proposal cannot pass a DND by carrying the marker', async (t) => {
  const p = policy();
  const gate = createSafetyGate(p);
  const state = conversationActor.initial('acme', 'c1');
  state.safety = { consent: { dnd: true, at: T0, source: 'opt-out', eventId: 'm1' } };
  const forged: ActionEffect = {
    type: 'action',
    channel: 'webhook',
    rule: 'echo',
    template: 'ack',
    variables: {},
    optOutConfirmation: { eventId: 'm1' },
  };
  const r = gate.review({
    event: {
      schema: 1,
      id: 'e9',
      type: 'x',
      tenant: 'acme',
      conversation: 'c1',
      occurredAt: '',
      attributes: {},
    },
    state,
    proposals: [forged],
    now: T0,
    rulesVersion: 'v1',
    seq: 9,
  });
  t.same(actions(r.effects), [], 'blocked: only the gate marks a confirmation');
});

t.test('opt-out confirmation - the pre-send gate passes it over its own opt-out record only', async (t) => {
  const control = new Snap();
  const consent = new Snap();
  const gate = new SafetyPreSendGate({
    policy: policy(),
    switches: { control, consent },
    clock: { now: () => T0, sleep: async () => {} },
  });
  consent.m.set('acme.c1', { dnd: true, channels: {}, source: 'opt-out', eventId: 'm2' });
  const base: ActionMessage = {
    schema: 1,
    id: confirmationId('acme', 'c1', 'm2'),
    type: 'action',
    tenant: 'acme',
    conversation: 'c1',
    channel: 'webhook',
    rule: OPT_OUT_CONFIRMATION_RULE,
    template: 'opt-out-confirmation',
    variables: {},
    event: { id: 'm2', type: 'message.received', attributes: {}, seq: 2 },
    decidedAt: new Date(T0).toISOString(),
  };
  t.same(
    await gate.check({ ...base, optOutConfirmation: { eventId: 'm2' } }),
    { allow: true },
    'its own opt-out',
  );
  t.match(await gate.check(base), { allow: false, reason: 'dnd' }, 'unmarked: blocked');
  t.match(
    await gate.check({ ...base, optOutConfirmation: { eventId: 'm1' } }),
    { allow: false, reason: 'dnd' },
    'another opt-out: blocked',
  );
  consent.m.set('acme.c1', { dnd: true, channels: {}, source: 'operator', eventId: 'm2' });
  t.match(
    await gate.check({ ...base, optOutConfirmation: { eventId: 'm2' } }),
    { allow: false, reason: 'dnd' },
    'an operator DND since: blocked',
  );
  consent.m.set('acme.c1', { dnd: true, channels: {}, source: 'opt-out', eventId: 'm2' });
  control.m.set('tenant.acme', { mode: 'pause' });
  t.match(await gate.check({ ...base, optOutConfirmation: { eventId: 'm2' } }), {
    allow: false,
    outcome: 'deferred',
  });
});
