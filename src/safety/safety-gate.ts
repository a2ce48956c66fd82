/**
 * The safety gate: the one place every proposed action passes before it can reach ACTIONS. Pure and
 * deterministic (actors/conversation/gate.ts): the event, the state, the proposals, the event's stream time
 * and the switch snapshots in; the new `safety` state and effects out.
 *
 * Per event, in order:
 *   1. operator events: `escalation.resolved` (resume / close / reply), `consent.updated`;
 *   2. classify the fan's message (lexicons, plus the model's enrichment when configured);
 *   3. react: a confident opt-out enrolls DND (state + parley-consent) and drops held actions; crisis, abuse,
 *      low confidence, an unavailable model or an unbridged revenue objection opens an escalation
 *      (ESCALATIONS, a hold record in parley-control) that holds every later action;
 *   4. every proposal through every guard (escalation hold, kill switch, consent, quiet hours, caps);
 *   5. one AUDIT record per outcome (sent, compliance-blocked, deferred, held, escalated, ...), with the event,
 *      the rule set version, every classifier label and every guard verdict. No message text: labels only.
 */
import type { GateInput, GateResult, SafetyGate } from '../../actors/conversation/gate.js';
import type { HeldAction, OpenEscalation, SafetyState } from '../../actors/conversation/safety-state.js';
import type { ActionEffect, Effect } from '../../actors/effects.js';
import { ValidationError } from '../errors/app-error.js';
import { CONSENT_BUCKET, CONSENT_EVENT_TYPE, consentKey, isDnd } from './consent.js';
import { CONTROL_BUCKET, type HoldRecord, holdKey } from './control.js';
import { classifyEngagement } from './engagement-classifier.js';
import {
  ESCALATION_RESOLVED_EVENT,
  type EscalationTrigger,
  escalationId,
  PRIORITY_RANK,
  ResolutionSchema,
  SUGGESTED_NEXT,
  triggerFor,
} from './escalation.js';
import { OPERATOR_RULE } from './escalation-guard.js';
import { recordSend } from './frequency-cap-guard.js';
import { type Classification, classifyMessage, fanTimeZone, guardAction } from './index.js';
import { LocalTime } from './local-time.js';
import type { SafetyPolicy, TenantPolicy } from './policy.js';
import { type ClassifierVerdict, combine, type GuardVerdict } from './verdict.js';

export const BRIDGE_RULE = 'safety-bridge';

type Outcome = 'sent' | 'blocked' | 'deferred' | 'held';

const AUDIT_KIND: Record<Outcome, string> = {
  sent: 'sent',
  blocked: 'compliance-blocked',
  deferred: 'deferred',
  held: 'held',
};

interface ActionRecord {
  rule: string;
  channel: string;
  template: string;
  decision: Outcome;
  reason?: string;
  delayMs?: number;
  released?: { eventId: string; seq: number };
  guards: GuardVerdict[];
}

const labelsOf = (vs: readonly ClassifierVerdict[]) =>
  vs.map((v) => ({
    classifier: v.classifier,
    label: v.label,
    confidence: v.confidence,
    ...(v.detail ? { detail: v.detail } : {}),
  }));

/** One review: mutable scratch for a single event, thrown away after. */
class Review {
  readonly effects: Effect[] = [];
  readonly records: ActionRecord[] = [];
  readonly extraAudits: Array<{ kind: string; record: Record<string, unknown> }> = [];
  safety: SafetyState;
  changed = false;
  #zone: { zone: string; source: string } | undefined;

  constructor(
    readonly input: GateInput,
    readonly policy: SafetyPolicy,
    readonly tenant: TenantPolicy,
    readonly clock: LocalTime,
  ) {
    this.safety = input.state.safety ?? {};
  }

  get event() {
    return this.input.event;
  }

  set(patch: Partial<SafetyState>): void {
    this.safety = { ...this.safety, ...patch };
    for (const [k, v] of Object.entries(patch))
      if (v === undefined) delete this.safety[k as keyof SafetyState];
    this.changed = true;
  }

  zone() {
    this.#zone ??= fanTimeZone(this.input.state, this.event, this.policy, this.tenant, this.clock);
    return this.#zone;
  }

  store(bucket: string, key: string, value: Record<string, unknown> | null): void {
    this.effects.push({ type: 'store', bucket, key, value });
  }

  /** Runs every guard over `action` and applies the combined verdict. */
  decide(action: ActionEffect, released?: HeldAction): void {
    const { event, now } = this.input;
    const guards = guardAction({
      action,
      tenant: event.tenant,
      conversation: event.conversation,
      now,
      safety: this.safety,
      switches: this.input.switches,
      policy: this.policy,
      tenantPolicy: this.tenant,
      zone: () => this.zone(),
      clock: this.clock,
    });
    const worst = combine(guards);
    const base = {
      rule: action.rule,
      channel: action.channel,
      template: action.template,
      guards,
      ...(released ? { released: { eventId: released.from.eventId, seq: released.from.seq } } : {}),
    };
    if (worst?.verdict === 'block') {
      this.records.push({ ...base, decision: 'blocked', reason: worst.reason });
      return;
    }
    if (worst?.verdict === 'hold') {
      this.hold(action);
      this.records.push({ ...base, decision: 'held', reason: worst.reason });
      return;
    }
    const out = worst?.delayMs !== undefined ? { ...action, delayMs: worst.delayMs } : action;
    this.effects.push(out);
    this.#recordSend(action);
    this.records.push({
      ...base,
      decision: worst ? 'deferred' : 'sent',
      ...(worst ? { reason: worst.reason } : {}),
      ...(out.delayMs ? { delayMs: out.delayMs } : {}),
    });
  }

  #recordSend(action: ActionEffect): void {
    if (action.rule === BRIDGE_RULE) {
      const label = String(action.variables.label ?? 'bridge');
      this.set({ bridges: { ...this.safety.bridges, [label]: (this.safety.bridges?.[label] ?? 0) + 1 } });
    }
    if (action.rule === OPERATOR_RULE) return;
    const caps = this.policy.fanCaps(this.tenant, action.rule);
    if (caps.length === 0) return;
    this.set({ sends: recordSend(this.safety.sends, action.channel, this.input.now, caps) });
  }

  hold(action: ActionEffect): void {
    const { event, now, seq = 0 } = this.input;
    const held = [
      ...(this.safety.held ?? []),
      { action, heldAt: now, from: { eventId: event.id, type: event.type, seq } },
    ];
    const max = this.policy.config.escalation.maxHeld;
    while (held.length > max) {
      const dropped = held.shift()!;
      this.dropped(dropped, 'hold-overflow');
    }
    this.set({ held });
  }

  /** Records a held action that will never be sent. */
  dropped(h: HeldAction, reason: string): void {
    this.records.push({
      rule: h.action.rule,
      channel: h.action.channel,
      template: h.action.template,
      decision: 'blocked',
      reason,
      released: { eventId: h.from.eventId, seq: h.from.seq },
      guards: [],
    });
  }

  dropHeld(reason: string): number {
    const held = this.safety.held ?? [];
    for (const h of held) this.dropped(h, reason);
    if (held.length) this.set({ held: undefined });
    return held.length;
  }

  /** Drops the held actions whose channel `consent` now forbids. */
  dropHeldFor(consent: { dnd: boolean; channels?: Record<string, boolean> }): number {
    const held = this.safety.held ?? [];
    const keep = held.filter((h) => !isDnd(consent, h.action.channel));
    for (const h of held) if (!keep.includes(h)) this.dropped(h, 'dnd');
    if (keep.length !== held.length) this.set({ held: keep.length ? keep : undefined });
    return held.length - keep.length;
  }

  audit(kind: string, record: Record<string, unknown>): void {
    this.extraAudits.push({ kind, record });
  }
}

export interface SafetyGateOptions {
  /** Shared Intl formatter cache; default a new one. */
  clock?: LocalTime;
}

export function createSafetyGate(policy: SafetyPolicy, options: SafetyGateOptions = {}): SafetyGate {
  const clock = options.clock ?? new LocalTime();
  return {
    review(input: GateInput): GateResult {
      const r = new Review(input, policy, policy.tenant(input.event.tenant), clock);
      const { event } = input;
      if (event.type === ESCALATION_RESOLVED_EVENT) resolve(r);
      else if (event.type === CONSENT_EVENT_TYPE) updateConsent(r);

      const classification = classifyMessage(event, policy, input.enrichment);
      const bridge = classification ? react(r, classification) : undefined;
      for (const p of input.proposals) r.decide(p);
      if (bridge) r.decide(bridge);
      return finish(r, classification);
    },
  };
}

/** Opt-out, escalation, bridge: what the labels call for. Returns a bridge action to decide, if any. */
function react(r: Review, c: Classification): ActionEffect | undefined {
  const { policy, tenant, input } = r;
  const { now } = input;
  const t = policy.config.minConfidence;
  const triggers: EscalationTrigger[] = [];
  let bridge: ActionEffect | undefined;
  for (const v of c.verdicts) {
    if (v.label === 'opt-out' && v.confidence >= t) optOut(r, v);
    const trigger = triggerFor(v, t);
    if (!trigger) continue;
    if (trigger.reason === 'revenue-objection') {
      const b = tenant.bridges.find((x) => x.label === v.label);
      const used = r.safety.bridges?.[v.label] ?? 0;
      if (b && used < b.maxPerConversation && !bridge && !r.safety.escalation) {
        bridge = {
          type: 'action',
          channel: b.channel,
          rule: BRIDGE_RULE,
          template: b.template,
          variables: { ...b.variables, label: v.label, ...(v.detail ? { detail: v.detail } : {}) },
        };
        continue;
      }
    }
    triggers.push(trigger);
  }
  if (c.modelUnavailable) triggers.push({ reason: 'classifier-unavailable', priority: 'normal' });
  const level = c.verdicts.some((v) => (v.label === 'crisis' || v.label === 'abuse') && v.confidence > 0)
    ? 'high'
    : c.verdicts.some((v) => v.label === 'revenue-objection')
      ? 'medium'
      : c.verdicts.some((v) => v.label === 'opt-out')
        ? 'low'
        : 'none';
  if (level !== (r.safety.risk?.level ?? 'none')) {
    const top = c.verdicts.find((v) => v.label !== 'none');
    r.set({ risk: { level, label: top?.label ?? 'none', at: now } });
  }
  const top = triggers.sort((a, b) => PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority])[0];
  if (top) escalate(r, top, c);
  return bridge && !r.safety.escalation ? bridge : undefined;
}

function optOut(r: Review, v: ClassifierVerdict): void {
  const { event, now } = r.input;
  const scope = r.policy.config.classifiers.optOut.scope;
  const channel = typeof event.attributes.channel === 'string' ? event.attributes.channel : undefined;
  const prev = r.safety.consent;
  const consent =
    scope === 'channel' && channel
      ? {
          dnd: prev?.dnd ?? false,
          channels: { ...prev?.channels, [channel]: true },
          at: now,
          source: 'opt-out' as const,
        }
      : { dnd: true, channels: {}, at: now, source: 'opt-out' as const };
  r.set({ consent });
  writeConsent(r);
  const dropped = r.dropHeldFor(consent);
  r.audit('opt-out', {
    classifier: v.classifier,
    confidence: v.confidence,
    scope: consent.dnd ? 'all' : channel,
    heldDropped: dropped,
  });
}

function writeConsent(r: Review): void {
  const { event, now } = r.input;
  const c = r.safety.consent!;
  r.store(CONSENT_BUCKET, consentKey(event.tenant, event.conversation), {
    tenant: event.tenant,
    conversation: event.conversation,
    dnd: c.dnd,
    channels: c.channels ?? {},
    source: c.source,
    updatedAt: new Date(now).toISOString(),
    eventId: event.id,
  });
}

function escalate(r: Review, trigger: EscalationTrigger, c: Classification): void {
  const { event, now, seq = 0 } = r.input;
  const open = r.safety.escalation;
  if (open && PRIORITY_RANK[trigger.priority] <= PRIORITY_RANK[open.priority]) {
    r.audit('escalation-noted', {
      escalationId: open.id,
      reason: trigger.reason,
      priority: trigger.priority,
    });
    return;
  }
  const id = open?.id ?? escalationId(event.tenant, event.conversation, seq);
  const escalation: OpenEscalation = open
    ? { ...open, priority: trigger.priority, reason: trigger.reason }
    : { id, reason: trigger.reason, priority: trigger.priority, openedAt: now, seq };
  r.set({ escalation });
  r.effects.push({
    type: 'escalate',
    escalationId: id,
    reason: trigger.reason,
    priority: trigger.priority,
    suggestedNext: SUGGESTED_NEXT[trigger.reason] ?? SUGGESTED_NEXT['low-confidence']!,
    evidence: {
      event: { id: event.id, type: event.type, seq },
      labels: labelsOf(c.verdicts.filter((v) => v.label !== 'none')),
      ...(trigger.verdict?.snippet ? { snippet: trigger.verdict.snippet } : {}),
      ...(c.modelUnavailable ? { modelError: c.modelUnavailable } : {}),
      ...(typeof event.attributes.channel === 'string' ? { channel: event.attributes.channel } : {}),
      ...(open ? { update: true } : {}),
    },
  });
  if (!open) {
    const hold: HoldRecord = { escalationId: id, status: 'open', since: new Date(now).toISOString() };
    r.store(CONTROL_BUCKET, holdKey(event.tenant, event.conversation), { ...hold });
  }
  r.audit('escalated', {
    escalationId: id,
    reason: trigger.reason,
    priority: trigger.priority,
    update: !!open,
  });
}

function resolve(r: Review): void {
  const { event, now } = r.input;
  const parsed = ResolutionSchema.safeParse(event.attributes);
  if (!parsed.success) {
    // An operator event that cannot be applied: recorded, never thrown (it would only be retried and dead-lettered).
    const err = new ValidationError(
      'invalid escalation resolution',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
    r.audit('escalation-resolved', { applied: false, error: err.message });
    return;
  }
  const res = parsed.data;
  const open = r.safety.escalation;
  const closed = r.safety.closed;
  const key = holdKey(event.tenant, event.conversation);
  const record = (extra: Record<string, unknown>) =>
    r.audit('escalation-resolved', {
      escalationId: res.escalationId,
      outcome: res.outcome,
      ...(res.by ? { by: res.by } : {}),
      ...extra,
    });

  if (open?.id !== res.escalationId) {
    if (closed?.escalationId === res.escalationId && res.outcome !== 'close') {
      r.set({
        closed: undefined,
        resolved: { id: res.escalationId, outcome: res.outcome, at: now, by: res.by },
      });
      r.store(CONTROL_BUCKET, key, null);
      if (res.outcome === 'reply') reply(r, res.reply!);
      record({ applied: true, reopened: true });
      return;
    }
    record({ applied: false, reason: open ? 'another-escalation-is-open' : 'not-open', open: open?.id });
    return;
  }
  r.set({
    escalation: undefined,
    resolved: { id: res.escalationId, outcome: res.outcome, at: now, by: res.by },
  });
  let released = 0;
  let dropped = 0;
  if (res.outcome === 'resume') {
    const held = r.safety.held ?? [];
    r.set({ held: undefined });
    r.store(CONTROL_BUCKET, key, null);
    for (const h of held) {
      if (now - h.heldAt > r.policy.config.escalation.heldMaxAgeMs) {
        r.dropped(h, 'stale');
        dropped++;
      } else {
        r.decide(h.action, h);
        released++;
      }
    }
  } else if (res.outcome === 'close') {
    dropped = r.dropHeld('escalation-closed');
    r.set({ closed: { escalationId: res.escalationId, at: now } });
    const hold: HoldRecord = {
      escalationId: res.escalationId,
      status: 'closed',
      since: new Date(now).toISOString(),
    };
    r.store(CONTROL_BUCKET, key, { ...hold });
  } else {
    dropped = r.dropHeld('superseded-by-reply');
    const hold: HoldRecord = {
      escalationId: res.escalationId,
      status: 'replied',
      since: new Date(now).toISOString(),
      dropBefore: now,
    };
    r.store(CONTROL_BUCKET, key, { ...hold });
    reply(r, res.reply!);
  }
  record({ applied: true, released, dropped });
}

function reply(r: Review, reply: { text: string; channel?: string; template?: string }): void {
  const e = r.policy.config.escalation;
  r.decide({
    type: 'action',
    channel: reply.channel ?? e.replyChannel,
    rule: OPERATOR_RULE,
    template: reply.template ?? e.replyTemplate,
    variables: { text: reply.text },
  });
}

function updateConsent(r: Review): void {
  const { event, now } = r.input;
  const a = event.attributes;
  if (typeof a.dnd !== 'boolean') {
    r.audit('consent', { applied: false, error: 'attributes.dnd must be a boolean' });
    return;
  }
  const channel = typeof a.channel === 'string' && a.channel ? a.channel : undefined;
  const prev = r.safety.consent;
  const consent = channel
    ? {
        dnd: prev?.dnd ?? false,
        channels: { ...prev?.channels, [channel]: a.dnd },
        at: now,
        source: 'operator' as const,
      }
    : { dnd: a.dnd, channels: {}, at: now, source: 'operator' as const };
  r.set({ consent });
  writeConsent(r);
  const dropped = r.dropHeldFor(consent);
  r.audit('consent', {
    applied: true,
    dnd: a.dnd,
    ...(channel ? { channel } : {}),
    ...(typeof a.by === 'string' ? { by: a.by } : {}),
    heldDropped: dropped,
  });
}

function finish(r: Review, c: Classification | undefined): GateResult {
  const { input } = r;
  const { event, seq = 0 } = input;
  const groups = new Map<Outcome, ActionRecord[]>();
  for (const rec of r.records) {
    const list = groups.get(rec.decision) ?? [];
    list.push(rec);
    groups.set(rec.decision, list);
  }
  const audits = r.extraAudits.length + groups.size;
  if (audits > 0) {
    const classifiers = c
      ? [
          ...labelsOf(c.verdicts),
          ...(c.modelUnavailable
            ? [{ classifier: r.policy.modelName, label: 'unavailable', confidence: 0 }]
            : []),
          labelsOf([
            classifyEngagement({
              state: input.state,
              now: input.now,
              inboundTypes: [...r.policy.messageTypes],
              dormantAfterMs: 14 * 86_400_000,
            }),
          ])[0],
        ]
      : [];
    const common = {
      stage: 'gate',
      event: { id: event.id, type: event.type, seq },
      rulesVersion: input.rulesVersion,
      classifiers,
      ...(r.safety.escalation
        ? { escalation: { id: r.safety.escalation.id, priority: r.safety.escalation.priority } }
        : {}),
    };
    for (const a of r.extraAudits)
      r.effects.push({ type: 'audit', kind: a.kind, record: { ...common, ...a.record } });
    for (const [decision, actions] of groups) {
      r.effects.push({ type: 'audit', kind: AUDIT_KIND[decision], record: { ...common, decision, actions } });
    }
  }
  return { state: r.changed ? { ...input.state, safety: r.safety } : input.state, effects: r.effects };
}
