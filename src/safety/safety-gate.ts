/**
 * The safety gate: the one place every proposed action passes before it can reach ACTIONS. Pure and
 * deterministic (actors/conversation/gate.ts): the event, the state, the proposals, the event's stream time
 * and the switch snapshots in; the new `safety` state and effects out.
 *
 * Per event, in order:
 *   1. operator events: `admin.escalation.resolved` (resume / close / reply), `admin.consent.updated`;
 *   2. classify the fan's message (lexicons, plus the enrichments: the offline second opinion, which can only
 *      add an escalation, and the hosted model when configured);
 *   3. react: a confident opt-out enrolls DND (state + parley-consent) and drops held actions; crisis, abuse,
 *      low confidence, an unavailable model or an unbridged revenue objection opens an escalation
 *      (ESCALATIONS, a hold record in parley-control) that holds every later action;
 *   4. every proposal through every guard (escalation hold, kill switch, consent, quiet hours, caps);
 *   5. one AUDIT record per outcome (sent, compliance-blocked, deferred, held, escalated, ...), with the event,
 *      the rule set version, every classifier label and every guard verdict. No message text: labels only.
 */
import type { GateInput, GateResult, SafetyGate } from '../contracts/conversation/gate.js';
import type { OpenEscalation } from '../contracts/conversation/safety-state.js';
import type { ActionEffect } from '../contracts/effects.js';
import { CONSENT_EVENT_TYPE, isDnd } from './consent.js';
import { CONTROL_BUCKET, type HoldRecord, holdKey } from './control.js';
import { classifyEngagement } from './engagement-classifier.js';
import {
  advisoryTrigger,
  ESCALATION_RESOLVED_EVENT,
  type EscalationTrigger,
  escalationId,
  PRIORITY_RANK,
  SUGGESTED_NEXT,
  triggerFor,
} from './escalation.js';
import { type ActionRecord, AUDIT_KIND, BRIDGE_RULE, labelsOf, type Outcome, Review } from './gate-review.js';
import { type Classification, classifyMessage } from './index.js';
import { LocalTime } from './local-time.js';
import { planConfirmation } from './opt-out-confirmation.js';
import type { SafetyPolicy } from './policy.js';
import { resolveEscalation, updateConsent } from './resolution.js';
import type { ClassifierVerdict } from './verdict.js';

export { BRIDGE_RULE } from './gate-review.js';

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
      if (event.type === ESCALATION_RESOLVED_EVENT) resolveEscalation(r);
      else if (event.type === CONSENT_EVENT_TYPE) updateConsent(r);

      const classification = classifyMessage(event, policy, input.enrichment);
      const extra = classification ? react(r, classification) : [];
      // Only the gate marks an opt-out confirmation: a proposal never passes a DND as one.
      for (const p of input.proposals) r.decide(p.optOutConfirmation ? unmarked(p) : p);
      for (const a of extra) r.decide(a);
      return finish(r, classification);
    },
  };
}

const unmarked = ({ optOutConfirmation: _, id: __, ...p }: ActionEffect): ActionEffect => p;

/**
 * Opt-out, escalation, bridge: what the labels call for. Returns the actions the gate itself sends, to decide
 * after the proposals: a bridge, an opt-out confirmation.
 */
function react(r: Review, c: Classification): ActionEffect[] {
  const { policy, tenant, input } = r;
  const { now } = input;
  const t = policy.config.minConfidence;
  const triggers: EscalationTrigger[] = [];
  let bridge: ActionEffect | undefined;
  let optedOut = false;
  let enrolled: Record<string, unknown> | undefined;
  for (const v of c.verdicts) {
    if (v.advisory) {
      // A second opinion only ever adds an escalation (a human looks); it never enrolls DND or bridges.
      const trigger = advisoryTrigger(v);
      if (trigger) triggers.push(trigger);
      continue;
    }
    if (v.label === 'opt-out' && v.confidence >= t && !optedOut) {
      enrolled = optOut(r, v);
      optedOut = true;
    }
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
  const out = bridge && !r.safety.escalation ? [bridge] : [];
  if (enrolled) {
    const plan = planConfirmation(r, c.verdicts);
    if (plan.type === 'send') {
      out.push(plan.action);
      enrolled.confirmation = { action: plan.action.id, channel: plan.action.channel };
    } else enrolled.confirmation = { skipped: plan.reason };
  }
  return out;
}

/**
 * Enrolls DND for a confident opt-out; returns its audit record (to note the confirmation on), or undefined
 * when the fan was on DND for it already: the first opt-out's record and confirmation stand.
 */
function optOut(r: Review, v: ClassifierVerdict): Record<string, unknown> | undefined {
  const { event, now } = r.input;
  const scope = r.policy.config.classifiers.optOut.scope;
  const channel = typeof event.attributes.channel === 'string' ? event.attributes.channel : undefined;
  const prev = r.safety.consent;
  const already =
    scope === 'channel' && channel
      ? isDnd(prev, channel)
      : prev?.dnd === true && !Object.values(prev.channels ?? {}).includes(false);
  if (already) {
    r.audit('opt-out', {
      classifier: v.classifier,
      confidence: v.confidence,
      already: true,
      heldDropped: r.dropHeldFor(prev!),
    });
    return undefined;
  }
  const consent =
    scope === 'channel' && channel
      ? {
          dnd: prev?.dnd ?? false,
          channels: { ...prev?.channels, [channel]: true },
          at: now,
          source: 'opt-out' as const,
          eventId: event.id,
        }
      : { dnd: true, channels: {}, at: now, source: 'opt-out' as const, eventId: event.id };
  r.set({ consent });
  r.writeConsent();
  const dropped = r.dropHeldFor(consent);
  const record: Record<string, unknown> = {
    classifier: v.classifier,
    confidence: v.confidence,
    scope: consent.dnd ? 'all' : channel,
    heldDropped: dropped,
  };
  r.audit('opt-out', record);
  return record;
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
