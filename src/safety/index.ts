/**
 * The safety layer's composition: every classifier over one message, every guard over one action, each
 * verdict kept (in order) for the decision path. The gate (safety-gate.ts) owns what happens next
 * (escalate, hold, DND, audit); the pre-send gate (pre-send-gate.ts) re-runs the guards that can change
 * after the decision.
 */
import type { SafetySwitches } from '../contracts/conversation/gate.js';
import type { SafetyState } from '../contracts/conversation/safety-state.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { consentGuard } from './consent-guard.js';
import { escalationGuard, OPERATOR_RULE } from './escalation-guard.js';
import { frequencyCapGuard } from './frequency-cap-guard.js';
import { killSwitchGuard } from './kill-switch-guard.js';
import { DISMISSED, normalizeText } from './lexicon.js';
import type { LocalTime } from './local-time.js';
import { messageText } from './message-text.js';
import { modelVerdict } from './model-classifier.js';
import type { SafetyPolicy, TenantPolicy } from './policy.js';
import { quietHoursGuard } from './quiet-hours-guard.js';
import { secondOpinionVerdict } from './second-opinion.js';
import { allow, type ClassifierVerdict, type GuardVerdict, NONE } from './verdict.js';

export * from './consent.js';
export * from './control.js';
export * from './escalation.js';
export * from './policy.js';
export * from './verdict.js';

export interface Classification {
  verdicts: ClassifierVerdict[];
  /** The model classifier was configured for this message but gave no usable answer. */
  modelUnavailable?: string;
}

/** Runs every classifier over a fan's message; undefined for events that carry none. */
export function classifyMessage(
  event: EventEnvelope,
  policy: SafetyPolicy,
  enrichment: Readonly<Record<string, unknown>> | undefined,
): Classification | undefined {
  if (!policy.messageTypes.has(event.type)) return undefined;
  const raw = messageText(event, policy.config.textFields);
  if (raw === undefined) return undefined;
  const text = normalizeText(raw);
  const verdicts = policy.classifiers.map((c) => c.classify(text));
  // The offline second opinion, when it ran: advisory, it can only add an escalation. Where the lexicon of
  // the same label read the phrase and dismissed it (negated, reported, a figure of speech), that reading
  // stands: the statistics cannot tell "I don't want to live" from "I don't want to die before your show".
  const second = policy.secondOpinion && secondOpinionVerdict(enrichment, policy.secondOpinion);
  if (second) {
    const own = policy.classifiers.findIndex((c) => c.label === second.label);
    const reading = own >= 0 ? verdicts[own] : undefined;
    if (reading && reading.label === NONE && reading.detail && DISMISSED.has(reading.detail))
      verdicts.push({ ...second, label: NONE, detail: `dismissed-by:${reading.classifier}` });
    else verdicts.push(second);
  }
  if (!policy.modelName) return { verdicts };
  const m = modelVerdict(enrichment, policy.modelName);
  if ('verdict' in m) {
    verdicts.push(m.verdict);
    return { verdicts };
  }
  return { verdicts, modelUnavailable: m.unavailable };
}

/** The fan's time zone: profile, then event attributes, then the tenant's; invalid zones are skipped. */
export function fanTimeZone(
  state: ConversationState,
  event: EventEnvelope,
  policy: SafetyPolicy,
  tenant: TenantPolicy,
  clock: LocalTime,
): { zone: string; source: string } {
  for (const f of policy.config.timeZoneFields) {
    const p = state.profile?.[f];
    if (typeof p === 'string' && clock.isValidZone(p)) return { zone: p, source: 'profile' };
  }
  for (const f of policy.config.timeZoneFields) {
    const a = event.attributes[f];
    if (typeof a === 'string' && clock.isValidZone(a)) return { zone: a, source: 'event' };
  }
  return { zone: clock.isValidZone(tenant.timeZone) ? tenant.timeZone : 'UTC', source: 'tenant' };
}

export interface GuardInput {
  action: ActionEffect;
  tenant: string;
  conversation: string;
  now: number;
  safety: SafetyState;
  switches: SafetySwitches | undefined;
  policy: SafetyPolicy;
  tenantPolicy: TenantPolicy;
  /** The fan's time zone, computed only when a quiet-hours window applies. */
  zone: () => { zone: string; source: string };
  clock: LocalTime;
}

/**
 * Every guard over one action, each verdict recorded. Human replies and opt-out confirmations (sent at once,
 * as the carriers ask) skip quiet hours and caps; a confirmation passes the DND of its own opt-out only.
 */
export function guardAction(g: GuardInput): GuardVerdict[] {
  const { action, tenant, conversation } = g;
  const confirms = action.optOutConfirmation;
  const target = {
    tenant,
    conversation,
    rule: action.rule,
    channel: action.channel,
    ...(confirms ? { confirms } : {}),
  };
  const exempt =
    action.rule === OPERATOR_RULE ? 'human-reply' : confirms ? 'opt-out-confirmation' : undefined;
  return [
    escalationGuard(action, g.safety),
    killSwitchGuard(target, g.switches?.control),
    consentGuard(target, g.safety.consent, g.switches?.consent),
    exempt ? allow('quiet-hours', { exempt }) : quietHours(g),
    exempt
      ? allow('frequency-cap', { exempt })
      : frequencyCapGuard(action, g.now, g.policy.fanCaps(g.tenantPolicy, action.rule), g.safety.sends),
  ];
}

function quietHours(g: GuardInput): GuardVerdict {
  const qh = g.policy.quietHours(g.tenantPolicy, g.action.rule);
  if (!qh) return allow('quiet-hours');
  const { zone, source } = g.zone();
  return quietHoursGuard({ action: g.action, now: g.now, quietHours: qh, zone, zoneSource: source }, g.clock);
}
