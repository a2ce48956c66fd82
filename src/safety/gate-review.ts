/**
 * One gate review: the scratch state of a single event (the evolving `safety` sub-state, the effects, the
 * per-action decision records) and the one place an action's guard verdicts become a decision: blocked,
 * held, deferred or sent. Thrown away after the event; see safety-gate.ts for the order of things.
 */
import type { GateInput } from '../contracts/conversation/gate.js';
import type { HeldAction, SafetyState } from '../contracts/conversation/safety-state.js';
import type { ActionEffect, Effect } from '../contracts/effects.js';
import { CONSENT_BUCKET, consentKey, isDnd } from './consent.js';
import { OPERATOR_RULE } from './escalation-guard.js';
import { recordSend } from './frequency-cap-guard.js';
import { fanTimeZone, guardAction } from './index.js';
import type { LocalTime } from './local-time.js';
import type { SafetyPolicy, TenantPolicy } from './policy.js';
import { type ClassifierVerdict, combine, type GuardVerdict } from './verdict.js';

export const BRIDGE_RULE = 'safety-bridge';

export type Outcome = 'sent' | 'blocked' | 'deferred' | 'held';

export const AUDIT_KIND: Record<Outcome, string> = {
  sent: 'sent',
  blocked: 'compliance-blocked',
  deferred: 'deferred',
  held: 'held',
};

export interface ActionRecord {
  rule: string;
  channel: string;
  template: string;
  decision: Outcome;
  reason?: string;
  delayMs?: number;
  released?: { eventId: string; seq: number };
  path?: ActionEffect['decision'];
  guards: Array<Omit<GuardVerdict, 'type'>>;
}

export const labelsOf = (vs: readonly ClassifierVerdict[]) =>
  vs.map((v) => ({
    classifier: v.classifier,
    label: v.label,
    confidence: v.confidence,
    ...(v.detail ? { detail: v.detail } : {}),
  }));

/** One review: mutable scratch for a single event, thrown away after. */
export class Review {
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
      // Where the rules engine decided it: journey step, A/B variant, the trigger of a delayed action.
      ...(action.decision ? { path: action.decision } : {}),
      // The verdicts as recorded: without their `type` tag (always "guard" here).
      guards: guards.map(({ type: _, ...g }) => g),
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
    if (action.rule === OPERATOR_RULE || action.optOutConfirmation) return;
    const caps = this.policy.fanCaps(this.tenant, action.rule);
    if (caps.length === 0) return;
    this.set({
      sends: recordSend(
        this.safety.sends,
        action.channel,
        this.input.now,
        this.policy.allFanCaps(this.tenant),
      ),
    });
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

  /** Writes the conversation's consent (state.safety.consent) to parley-consent, for every process to see. */
  writeConsent(): void {
    const { event, now } = this.input;
    const c = this.safety.consent!;
    this.store(CONSENT_BUCKET, consentKey(event.tenant, event.conversation), {
      tenant: event.tenant,
      conversation: event.conversation,
      dnd: c.dnd,
      channels: c.channels ?? {},
      source: c.source,
      updatedAt: new Date(now).toISOString(),
      eventId: event.id,
    });
  }
}
