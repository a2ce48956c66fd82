import t from 'tap';
import type { GateInput, SnapshotView } from '../../actors/conversation/gate.js';
import { type ConversationState, initialConversationState } from '../../actors/conversation/state.js';
import type { ActionEffect, Effect } from '../../actors/effects.js';
import { SafetySchema } from '../../src/config/safety-schema.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0); // a Monday, 12:00 UTC

function policy(safety: Record<string, unknown> = {}, tenants: Record<string, unknown> = {}) {
  return new SafetyPolicy(SafetySchema.parse(safety), tenants as never);
}

class Snap implements SnapshotView {
  readonly m = new Map<string, Record<string, unknown>>();
  get(k: string) {
    return this.m.get(k);
  }
}

const echo: ActionEffect = {
  type: 'action',
  channel: 'webhook',
  rule: 'echo',
  template: 'ack',
  variables: {},
};

/** Runs events through the gate like the conversation actor does, threading the state. */
function harness(p: SafetyPolicy) {
  const gate = createSafetyGate(p);
  const control = new Snap();
  const consent = new Snap();
  let state: ConversationState = initialConversationState('acme', 'c1');
  let seq = 0;
  return {
    control,
    consent,
    get state() {
      return state;
    },
    step(
      type: string,
      attributes: Record<string, unknown> = {},
      opts: { now?: number; proposals?: ActionEffect[]; enrichment?: Record<string, unknown> } = {},
    ): Effect[] {
      seq++;
      const now = opts.now ?? T0 + seq * 1000;
      const event: EventEnvelope = {
        schema: 1,
        id: `e${seq}`,
        type,
        tenant: 'acme',
        conversation: 'c1',
        occurredAt: new Date(now).toISOString(),
        attributes,
      };
      const input: GateInput = {
        event,
        state,
        proposals: opts.proposals ?? (type === 'message.received' ? [echo] : []),
        now,
        rulesVersion: 'v1',
        seq,
        switches: { control, consent },
        enrichment: opts.enrichment,
      };
      const r = gate.review(input);
      state = r.state;
      return r.effects;
    },
  };
}

const actions = (fx: Effect[]) => fx.filter((e): e is ActionEffect => e.type === 'action');
const audits = (fx: Effect[], kind?: string) =>
  fx.filter((e) => e.type === 'audit' && (!kind || e.kind === kind)) as Array<{
    kind: string;
    record: Record<string, any>;
  }>;
const of = <T extends Effect['type']>(fx: Effect[], type: T) =>
  fx.filter((e) => e.type === type) as Array<Extract<Effect, { type: T }>>;

t.test('safety gate - a clean message is sent and audited with its full decision path', async (t) => {
  const h = harness(policy());
  const fx = h.step('message.received', { text: 'love your new video!' });
  t.equal(actions(fx).length, 1);
  const [a] = audits(fx, 'sent');
  t.ok(a, 'one sent audit record');
  t.equal(a!.record.rulesVersion, 'v1');
  t.same(a!.record.event, { id: 'e1', type: 'message.received', seq: 1 });
  t.same(
    a!.record.actions[0].guards.map((g: { guard: string; verdict: string }) => `${g.guard}:${g.verdict}`),
    ['escalation:allow', 'kill-switch:allow', 'consent:allow', 'quiet-hours:allow', 'frequency-cap:allow'],
  );
  t.same(
    a!.record.classifiers.map((c: { classifier: string; label: string }) => `${c.classifier}:${c.label}`),
    [
      'crisis-lexicon:none',
      'abuse-lexicon:none',
      'opt-out-lexicon:none',
      'revenue-objection-lexicon:none',
      'engagement:new',
    ],
  );
  t.notOk(JSON.stringify(fx).includes('love your'), 'no message text in effects');
  t.equal(h.state.safety, undefined, 'nothing stored for a conversation that met no guard');
});

t.test(
  'safety gate - STOP enrolls DND, blocks the reply and every later action, audited as compliance-blocked',
  async (t) => {
    const h = harness(policy());
    const fx = h.step('message.received', { text: 'STOP' });
    t.equal(actions(fx).length, 0, 'the rule reply to STOP is not sent');
    const [store] = of(fx, 'store');
    t.equal(store!.bucket, 'parley-consent');
    t.equal(store!.key, 'acme.c1');
    t.match(store!.value, { dnd: true, source: 'opt-out' });
    t.equal(audits(fx, 'opt-out').length, 1);
    const [blocked] = audits(fx, 'compliance-blocked');
    t.equal(blocked!.record.actions[0].reason, 'dnd');
    const later = h.step('purchase.completed', {}, { proposals: [echo] });
    t.equal(actions(later).length, 0, 'a later action is blocked too');
    t.equal(audits(later, 'compliance-blocked').length, 1);
    const again = h.step('admin.consent.updated', { dnd: false, by: 'ops' }, { proposals: [echo] });
    t.equal(actions(again).length, 1, 'an operator opt-in (admin.consent.updated) restores sending');
    t.match(of(again, 'store')[0]!.value, { dnd: false, source: 'operator' });
  },
);

t.test(
  'safety gate - a DND record in parley-consent is honoured even if the actor never saw the opt-out',
  async (t) => {
    const h = harness(policy());
    h.consent.m.set('acme.c1', { dnd: false, channels: { webhook: true } });
    t.equal(actions(h.step('message.received', { text: 'hi' })).length, 0, 'webhook is DND');
    t.equal(
      actions(h.step('x', {}, { proposals: [{ ...echo, channel: 'email' }] })).length,
      1,
      'email is not',
    );
  },
);

t.test(
  'safety gate - crisis escalates, holds every action until resume, then releases them through the guards',
  async (t) => {
    const h = harness(policy());
    const fx = h.step('message.received', { text: 'i want to end my life' });
    const [esc] = of(fx, 'escalate');
    t.equal(esc!.reason, 'crisis');
    t.equal(esc!.priority, 'urgent');
    t.equal(esc!.escalationId, 'acme.c1.1');
    t.match(esc!.evidence, { snippet: /end my life/, event: { id: 'e1', seq: 1 } });
    t.ok(esc!.suggestedNext);
    t.match(of(fx, 'store')[0], {
      bucket: 'parley-control',
      key: 'escalation.acme.c1',
      value: { status: 'open' },
    });
    t.equal(actions(fx).length, 0, 'nothing sent');
    t.equal(audits(fx, 'escalated').length, 1);
    t.equal(audits(fx, 'held').length, 1);
    for (let i = 0; i < 3; i++) t.equal(actions(h.step('message.received', { text: 'hello?' })).length, 0);
    t.equal(h.state.safety?.held?.length, 4, 'four actions held');

    const stale = h.step('admin.escalation.resolved', { escalationId: 'acme.c1.999', outcome: 'resume' });
    t.match(audits(stale, 'escalation-resolved')[0]!.record, { applied: false });
    t.equal(actions(stale).length, 0, 'a resolution of another escalation changes nothing');

    const res = h.step('admin.escalation.resolved', {
      escalationId: 'acme.c1.1',
      outcome: 'resume',
      by: 'ops@x',
    });
    t.equal(actions(res).length, 4, 'held actions released');
    t.match(of(res, 'store')[0], { bucket: 'parley-control', key: 'escalation.acme.c1', value: null });
    t.match(audits(res, 'escalation-resolved')[0]!.record, { applied: true, released: 4, by: 'ops@x' });
    t.equal(h.state.safety?.escalation, undefined);
    t.equal(actions(h.step('message.received', { text: 'thanks' })).length, 1, 'automation resumed');
  },
);

t.test(
  'safety gate - close stops automation; reply sends the human message and drops what was held',
  async (t) => {
    const h = harness(policy());
    h.step('message.received', { text: 'I know where you live' });
    h.step('message.received', { text: 'answer me' });
    const closed = h.step('admin.escalation.resolved', { escalationId: 'acme.c1.1', outcome: 'close' });
    t.equal(actions(closed).length, 0);
    t.match(of(closed, 'store')[0]!.value, { status: 'closed' });
    t.equal(
      audits(closed, 'compliance-blocked')[0]!.record.actions.length,
      2,
      'held actions dropped, recorded',
    );
    const after = h.step('message.received', { text: 'hi' });
    t.equal(actions(after).length, 0);
    t.equal(audits(after, 'compliance-blocked')[0]!.record.actions[0].reason, 'automation-closed');

    const h2 = harness(policy());
    h2.step('message.received', { text: 'refund me or I will file a chargeback' });
    t.ok(h2.state.safety?.escalation, 'revenue objection without a bridge escalates');
    const reply = h2.step('admin.escalation.resolved', {
      escalationId: 'acme.c1.1',
      outcome: 'reply',
      reply: { text: 'Sorry! Refund on its way.', channel: 'dm' },
    });
    const [a] = actions(reply);
    t.match(a, {
      rule: 'operator',
      channel: 'dm',
      template: 'operator-reply',
      variables: { text: 'Sorry! Refund on its way.' },
    });
    t.match(of(reply, 'store')[0]!.value, { status: 'replied' });
    t.equal(actions(reply).length, 1, 'the held echo was dropped, only the reply goes');
    t.equal(
      actions(h2.step('message.received', { text: 'thx' })).length,
      1,
      'automation continues after a reply',
    );
  },
);

t.test('safety gate - kill switches block and pauses defer at every scope', async (t) => {
  const scopes = [
    'global',
    'tenant.acme',
    'rule.echo',
    'tenant.acme.rule.echo',
    'channel.webhook',
    'tenant.acme.channel.webhook',
    'tenant.acme.conversation.c1',
  ];
  for (const key of scopes) {
    const h = harness(policy());
    h.control.m.set(key, { mode: 'kill', scope: key, at: '' });
    const killed = h.step('message.received', { text: 'hi' });
    t.equal(actions(killed).length, 0, `kill ${key} blocks`);
    t.match(audits(killed, 'compliance-blocked')[0]!.record.actions[0], { reason: 'killed' });
    h.control.m.set(key, { mode: 'pause', scope: key, at: '' });
    const paused = h.step('message.received', { text: 'hi' });
    t.equal(actions(paused).length, 1, `pause ${key}: passed on, held at send time`);
    t.match(audits(paused, 'deferred')[0]!.record.actions[0], { reason: 'paused' });
    h.control.m.delete(key);
    t.equal(audits(h.step('message.received', { text: 'hi' }), 'sent').length, 1, `resume ${key}`);
  }
  const other = harness(policy());
  other.control.m.set('tenant.globex', { mode: 'kill', scope: 'tenant:globex', at: '' });
  other.control.m.set('rule.other', { mode: 'kill', scope: 'rule:other', at: '' });
  t.equal(actions(other.step('message.received', { text: 'hi' })).length, 1, 'other scopes do not apply');
});

t.test(
  'safety gate - quiet hours defer across a time-zone boundary (and DST), or drop per rule',
  async (t) => {
    const p = policy(
      {
        quietHours: { start: '21:00', end: '08:00' },
        rules: { promo: { quietHours: { mode: 'drop' } }, urgent: { quietHours: false } },
      },
      { acme: { timeZone: 'Europe/Paris' } },
    );
    // 2026-03-08 01:30Z is 20:30 on 7 March in New York (EST): allowed. 02:30Z is 21:30: quiet.
    const ny = { text: 'hi', timeZone: 'America/New_York' };
    const h = harness(p);
    t.equal(
      audits(h.step('message.received', ny, { now: Date.parse('2026-03-08T01:30:00Z') }), 'sent').length,
      1,
    );
    const fx = h.step('message.received', ny, { now: Date.parse('2026-03-08T02:30:00Z') });
    const [a] = actions(fx);
    // DST starts in New York at 02:00 on 8 March: 08:00 local is EDT (UTC-4) = 12:00Z, not 13:00Z.
    t.equal(
      new Date(Date.parse('2026-03-08T02:30:00Z') + a!.delayMs!).toISOString(),
      '2026-03-08T12:00:00.000Z',
    );
    const [d] = audits(fx, 'deferred');
    t.match(d!.record.actions[0].guards[3], {
      guard: 'quiet-hours',
      verdict: 'defer',
      detail: { zone: 'America/New_York', zoneSource: 'event' },
    });
    // The same instant is 03:30 in Paris (tenant zone, quiet) and 11:30 in Tokyo (allowed).
    t.equal(
      actions(
        harness(p).step('message.received', { text: 'hi' }, { now: Date.parse('2026-03-08T02:30:00Z') }),
      )[0]!.delayMs,
      Date.parse('2026-03-08T07:00:00Z') - Date.parse('2026-03-08T02:30:00Z'),
      'tenant zone: 08:00 Paris',
    );
    t.equal(
      actions(
        harness(p).step(
          'message.received',
          { text: 'hi', timeZone: 'Asia/Tokyo' },
          { now: Date.parse('2026-03-08T02:30:00Z') },
        ),
      )[0]!.delayMs,
      undefined,
      'Tokyo is awake',
    );
    t.equal(
      actions(
        harness(p).step(
          'message.received',
          { text: 'hi', timeZone: 'Not/AZone' },
          { now: Date.parse('2026-03-08T02:30:00Z') },
        ),
      )[0]!.delayMs! > 0,
      true,
      'an invalid zone falls back to the tenant zone',
    );
    const promo: ActionEffect = { ...echo, rule: 'promo' };
    const dropped = harness(p).step('x', ny, {
      now: Date.parse('2026-03-08T02:30:00Z'),
      proposals: [promo, { ...echo, rule: 'urgent' }],
    });
    t.equal(actions(dropped).length, 1, 'promo dropped, urgent exempt');
    t.match(audits(dropped, 'compliance-blocked')[0]!.record.actions[0], {
      rule: 'promo',
      reason: 'quiet-hours',
    });
    // A profile zone wins over the event's.
    const hp = harness(p);
    (hp.state as { profile?: unknown }).profile = { timeZone: 'Asia/Tokyo' };
    t.equal(
      actions(hp.step('message.received', ny, { now: Date.parse('2026-03-08T02:30:00Z') }))[0]!.delayMs,
      undefined,
    );
    t.equal(
      actions(harness(policy()).step('message.received', ny, { now: Date.parse('2026-03-08T02:30:00Z') }))[0]!
        .delayMs,
      undefined,
      'no quiet hours unless configured',
    );
  },
);

t.test('safety gate - frequency caps per fan and channel over a sliding window', async (t) => {
  const p = policy({ caps: { perFan: [{ channel: 'webhook', max: 2, window: '1d' }] } });
  const h = harness(p);
  const day = 86_400_000;
  t.equal(actions(h.step('message.received', { text: 'a' }, { now: T0 })).length, 1);
  t.equal(actions(h.step('message.received', { text: 'b' }, { now: T0 + 1000 })).length, 1);
  const third = h.step('message.received', { text: 'c' }, { now: T0 + 2000 });
  t.equal(actions(third).length, 0);
  t.match(audits(third, 'compliance-blocked')[0]!.record.actions[0].guards[4], {
    verdict: 'block',
    detail: { max: 2, count: 2, window: '1d' },
  });
  t.equal(
    actions(h.step('x', {}, { now: T0 + 3000, proposals: [{ ...echo, channel: 'email' }] })).length,
    1,
    'other channel not capped',
  );
  t.equal(actions(h.step('message.received', { text: 'd' }, { now: T0 + day + 1 })).length, 1, 'window slid');
  t.ok((h.state.safety?.sends?.webhook?.length ?? 0) <= 3, 'send times pruned');
});

t.test(
  'safety gate - low confidence and an unavailable model escalate; the model is one more verdict',
  async (t) => {
    const h = harness(policy());
    const fx = h.step('message.received', { text: 'leave me alone' });
    t.match(of(fx, 'escalate')[0], { reason: 'low-confidence', priority: 'normal' });
    t.equal(of(fx, 'store').filter((s) => s.bucket === 'parley-consent').length, 0, 'no DND on a guess');

    const m = harness(policy({ model: { enabled: true, model: 'tiny' } }));
    const down = m.step(
      'message.received',
      { text: 'hi' },
      { enrichment: { model: { status: 'error', classifier: 'openai:tiny', error: 'timeout', ms: 3000 } } },
    );
    t.match(of(down, 'escalate')[0], {
      reason: 'classifier-unavailable',
      evidence: { modelError: 'timeout' },
    });
    t.equal(actions(down).length, 0, 'never sent blind');
    const none = harness(policy({ model: { enabled: true, model: 'tiny' } })).step('message.received', {
      text: 'hi',
    });
    t.match(
      of(none, 'escalate')[0],
      { reason: 'classifier-unavailable' },
      'no enrichment at all is no answer',
    );
    const ok = harness(policy({ model: { enabled: true, model: 'tiny' } })).step(
      'message.received',
      { text: 'hi' },
      {
        enrichment: {
          model: { status: 'ok', classifier: 'openai:tiny', label: 'none', confidence: 0.97, ms: 5 },
        },
      },
    );
    t.equal(actions(ok).length, 1);
    const flagged = harness(policy({ model: { enabled: true, model: 'tiny' } })).step(
      'message.received',
      { text: 'hi' },
      {
        enrichment: {
          model: { status: 'ok', classifier: 'openai:tiny', label: 'crisis', confidence: 0.8, ms: 5 },
        },
      },
    );
    t.match(of(flagged, 'escalate')[0], { reason: 'crisis', priority: 'urgent' });
  },
);

t.test('safety gate - a configured bridge answers a revenue objection once, then it escalates', async (t) => {
  const h = harness(
    policy({ bridges: [{ label: 'revenue-objection', channel: 'dm', template: 'bridge-objection' }] }),
  );
  const fx = h.step('message.received', { text: 'this is too expensive' });
  t.equal(of(fx, 'escalate').length, 0);
  t.match(actions(fx), [
    { rule: 'echo' },
    {
      rule: 'safety-bridge',
      template: 'bridge-objection',
      variables: { label: 'revenue-objection', detail: 'price' },
    },
  ]);
  const again = h.step('message.received', { text: 'I want a refund' });
  t.match(of(again, 'escalate')[0], { reason: 'revenue-objection' });
});

t.test('safety gate - deterministic: the same inputs give the same state and effects', async (t) => {
  const texts = ['hi', 'I want to die', 'hello', 'STOP', 'x'];
  const run = () => {
    const h = harness(policy({ caps: { perFan: [{ max: 3, window: '1h' }] } }));
    return { fx: texts.map((text) => h.step('message.received', { text })), state: h.state };
  };
  t.same(run(), run());
});

t.test('safety gate - send times are kept for the longest window any rule caps', async (t) => {
  const p = policy({
    caps: { perFan: [{ channel: 'webhook', max: 10, window: '1d' }] },
    rules: { weekly: { caps: { perFan: [{ channel: 'webhook', max: 2, window: '1w' }] } } },
  });
  const h = harness(p);
  const day = 86_400_000;
  const weekly: ActionEffect = { ...echo, rule: 'weekly' };
  t.equal(actions(h.step('x', {}, { now: T0, proposals: [weekly] })).length, 1);
  t.equal(
    actions(h.step('x', {}, { now: T0 + 2 * day, proposals: [echo] })).length,
    1,
    'a daily-capped send',
  );
  const third = h.step('x', {}, { now: T0 + 3 * day, proposals: [weekly] });
  t.equal(actions(third).length, 0, 'the weekly cap still sees the send of three days ago');
});

t.test('safety gate - the audit record carries the rules engine path (journey step, variant)', async (t) => {
  const h = harness(policy());
  const fx = h.step(
    'x',
    {},
    {
      proposals: [
        {
          ...echo,
          decision: {
            rulesVersion: 'v1',
            variant: 'b',
            journey: { id: 'welcome', version: 'j1', step: 'hello' },
          },
        },
      ],
    },
  );
  t.match(audits(fx, 'sent')[0]!.record.actions[0], {
    path: { variant: 'b', journey: { id: 'welcome', step: 'hello' } },
  });
});

t.test(
  'safety gate - an unsure model escalates; lexicon and model agreeing on STOP enroll DND once',
  async (t) => {
    const p = policy({ model: { enabled: true, model: 'tiny' } });
    const unsure = harness(p).step(
      'message.received',
      { text: 'hmm' },
      {
        enrichment: {
          model: { status: 'ok', classifier: 'openai:tiny', label: 'none', confidence: 0.3, ms: 5 },
        },
      },
    );
    t.match(of(unsure, 'escalate')[0], { reason: 'low-confidence' });
    const stop = harness(p).step(
      'message.received',
      { text: 'STOP' },
      {
        enrichment: {
          model: { status: 'ok', classifier: 'openai:tiny', label: 'opt-out', confidence: 0.99, ms: 5 },
        },
      },
    );
    t.equal(of(stop, 'store').length, 1, 'one consent write');
    t.equal(audits(stop, 'opt-out').length, 1, 'one opt-out record');
  },
);
