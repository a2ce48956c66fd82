import t from 'tap';
import type { GateInput } from '../../actors/conversation/gate.js';
import { initialConversationState } from '../../actors/conversation/state.js';
import type { ActionEffect, Effect } from '../../actors/effects.js';
import { SafetySchema } from '../../src/config/safety-schema.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { createSafetyGate } from '../../src/safety/safety-gate.js';
import {
  combineEnrichers,
  NaiveBayesClassifier,
  secondOpinionEnricher,
  trainNaiveBayes,
} from '../../src/safety/second-opinion.js';

const T0 = Date.UTC(2026, 0, 5, 12);
const echo: ActionEffect = {
  type: 'action',
  channel: 'webhook',
  rule: 'echo',
  template: 'ack',
  variables: {},
};
const empty = { get: () => undefined };

const event = (text: string, type = 'message.received'): EventEnvelope => ({
  schema: 1,
  id: 'e1',
  type,
  tenant: 'acme',
  conversation: 'c1',
  occurredAt: new Date(T0).toISOString(),
  attributes: { text },
});

/** One message through the gate with the second opinion saying `label` at `confidence`. */
function review(text: string, label: string, confidence: number, safety: Record<string, unknown> = {}) {
  const gate = createSafetyGate(new SafetyPolicy(SafetySchema.parse(safety)));
  const input: GateInput = {
    event: event(text),
    state: initialConversationState('acme', 'c1'),
    proposals: [echo],
    now: T0,
    rulesVersion: 'v1',
    seq: 1,
    switches: { control: empty, consent: empty },
    enrichment: { secondOpinion: { classifier: 'naive-bayes', label, confidence } },
  };
  return gate.review(input).effects;
}
const of = <T extends Effect['type']>(fx: Effect[], type: T) =>
  fx.filter((e) => e.type === type) as Array<Extract<Effect, { type: T }>>;
const dnd = (fx: Effect[]) => of(fx, 'store').filter((s) => s.bucket === 'parley-consent');
const labels = (fx: Effect[]) =>
  (
    of(fx, 'audit')[0]!.record.classifiers as Array<{ classifier: string; label: string; detail?: string }>
  ).find((c) => c.classifier === 'naive-bayes');

t.test('safety second opinion - a confident crisis the lexicons missed escalates as a crisis', async (t) => {
  const fx = review('going to take all of them tonight', 'crisis', 0.999);
  t.match(of(fx, 'escalate')[0], { reason: 'crisis', priority: 'high' });
  t.equal(of(fx, 'action').length, 0, 'the rule reply is held');
  t.match(labels(fx), { label: 'crisis' });
  const unsure = review('going to take all of them tonight', 'crisis', 0.9);
  t.equal(
    of(unsure, 'escalate').length,
    0,
    'below safety.secondOpinion.crisisConfidence it is only recorded',
  );
  t.match(labels(unsure), { label: 'none', detail: 'below-threshold:crisis' });
});

t.test('safety second opinion - it never lowers a lexicon verdict', async (t) => {
  const crisis = review('i want to end my life', 'none', 0.99);
  t.match(of(crisis, 'escalate')[0], { reason: 'crisis', priority: 'urgent' }, 'the lexicon crisis stands');
  const stop = review('STOP', 'none', 0.99);
  t.equal(dnd(stop).length, 1, 'STOP still enrolls DND');
  t.equal(of(stop, 'escalate').length, 0, 'and its none is no low-confidence escalation');
  const clean = review('love your new video', 'none', 0.4);
  t.equal(of(clean, 'action').length, 1, 'an unsure none from it holds nothing');
});

t.test('safety second opinion - it never enrolls DND nor answers with a bridge', async (t) => {
  const all = { secondOpinion: { otherConfidence: 0.9 } };
  const optOut = review('hmm whatever', 'opt-out', 0.99, all);
  t.equal(dnd(optOut).length, 0, 'no DND on its word');
  t.match(of(optOut, 'escalate')[0], { reason: 'low-confidence' }, 'a human decides');
  const bridged = review('meh', 'revenue-objection', 0.99, {
    ...all,
    bridges: [{ label: 'revenue-objection', channel: 'dm', template: 'bridge' }],
  });
  t.match(of(bridged, 'escalate')[0], { reason: 'revenue-objection' });
  t.notOk(
    of(bridged, 'action').some((a) => a.rule === 'safety-bridge'),
    'no bridge message on a statistical guess',
  );
  t.equal(of(review('hmm whatever', 'opt-out', 0.99), 'escalate').length, 0, 'other labels off by default');
});

t.test('safety second opinion - a phrase the lexicon dismissed stays dismissed', async (t) => {
  const fx = review("i don't want to die before seeing you live", 'crisis', 0.999);
  t.equal(of(fx, 'escalate').length, 0);
  t.match(labels(fx), { label: 'none', detail: 'dismissed-by:crisis-lexicon' });
});

t.test('safety second opinion - off, or absent from the event, it changes nothing', async (t) => {
  const off = review('going to take all of them tonight', 'crisis', 0.999, {
    secondOpinion: { enabled: false },
  });
  t.equal(of(off, 'escalate').length, 0);
  t.equal(labels(off), undefined, 'not recorded when off');
});

t.test('safety second opinion - trained counts decide; the enricher runs only on fan messages', async (t) => {
  const c = new NaiveBayesClassifier(
    trainNaiveBayes([
      { label: 'crisis', text: 'i will take all the pills' },
      { label: 'crisis', text: 'take them all tonight' },
      { label: 'benign', text: 'see you tonight at the show' },
      { label: 'benign', text: 'love the show' },
    ]),
    { benignPrior: 0.5 },
  );
  t.equal(c.predict('all the pills tonight').label, 'crisis');
  t.equal(c.predict('the show was great').label, 'none');
  t.same(c.predict('x'), c.predict('x'), 'deterministic');
  const enrich = secondOpinionEnricher(c, { eventTypes: ['message.received'], textFields: ['text'] });
  t.match(await enrich(event('all the pills')), { secondOpinion: { classifier: 'naive-bayes' } });
  t.equal(await enrich(event('all the pills', 'purchase.completed')), undefined);
  const both = combineEnrichers([enrich, async () => ({ model: { status: 'ok' } })])!;
  t.match(await both(event('hi')), { secondOpinion: {}, model: { status: 'ok' } });
  const failing = combineEnrichers([enrich, async () => Promise.reject(new Error('down'))])!;
  t.match(await failing(event('hi')), { secondOpinion: {} }, "one step's failure is its own");
});
