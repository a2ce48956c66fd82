/**
 * The rules engine's evaluation of one event for one conversation: pure and deterministic (time is the
 * event's stream time, ids derive from the stream sequence). In order:
 *   1. fire the timers due by the event's stream time (journey delays and wait timeouts, delayed rule
 *      actions, debounce and digest windows, inactivity), ignoring stale ones: on `timer.wake`, and on any
 *      other event that reached them first, so a timer due at or before an event always fires before it,
 *   2. profile counters and detectors (may emit signals, (re)arm inactivity timers),
 *   3. `cancel_on` of rules (pending delayed actions, open windows) and `exit_on` / step `cancel_on` of
 *      journeys in flight (pending.ts),
 *   4. journeys in flight waiting for this event advance on their on_event edge,
 *   5. `admin.trigger` starts a named rule or journey,
 *   6. trigger rules whose `on` and `when` match propose their actions (A/B variant sticky per conversation;
 *      delayed ones become timers; debounced and digest rules feed their window),
 *   7. journeys whose entry matches start (re-entry policy permitting) on the current version (runs:
 *      journey-runs.ts),
 *   8. the earliest timer becomes the conversation's wake-up (written lazily: only when it moves earlier).
 * Proposed actions go through the safety gate in the actor; emits, audits and the wake-up do not.
 */
import type {
  AutomationState,
  CollectedEvent,
  Profile,
  Timer,
} from '../contracts/conversation/automation.js';
import type { Evaluation, EvaluationContext } from '../contracts/conversation/decider.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect, DecisionMeta, Effect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { WAKE_EVENT_TYPE } from '../contracts/event-types.js';
import { type CompiledAction, renderAction } from './actions.js';
import { advance, enter, pinned, type RunHost, runEntries, runExits, runWaits } from './journey-runs.js';
import {
  cancelPending,
  closeWindow,
  feedWindow,
  keptTrigger,
  type PendingHost,
  ruleOfTimer,
} from './pending.js';
import { applyProfileAndDetectors, inactivitySignal, insertTimer } from './profile.js';
import type { CompiledRule, RuleSet } from './rule-set.js';

export const WAKE_TYPE = WAKE_EVENT_TYPE;
export const ADMIN_TRIGGER_TYPE = 'admin.trigger';
const EMPTY: Profile = Object.freeze({}) as Profile;

/** FNV-1a (32 bit) of a string, mixed, as a fraction in [0, 1). */
function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // murmur3's finalizer: FNV alone barely moves the high bits when only the last character differs.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** The variant a conversation gets for a rule: weighted, deterministic in (rule, tenant, conversation). */
export function pickVariant(
  variants: ReadonlyArray<{ id: string; weight: number }>,
  rule: string,
  tenant: string,
  conversation: string,
): string {
  const total = variants.reduce((a, v) => a + v.weight, 0);
  let x = unitHash(`${rule}|${tenant}|${conversation}`) * total;
  for (const v of variants) {
    if (x < v.weight) return v.id;
    x -= v.weight;
  }
  return variants[variants.length - 1]!.id;
}

class Evaluator implements RunHost {
  readonly proposals: ActionEffect[] = [];
  readonly effects: Effect[] = [];
  readonly auto: AutomationState;
  readonly fired: PendingHost['fired'] = [];
  profile: Profile | undefined;
  state: ConversationState;
  /** What `/event` is while timers fire on an event that is not their wake-up: that wake-up. */
  #docEvent: EventEnvelope | undefined;
  #timerSeq = 0;

  constructor(
    readonly set: RuleSet,
    readonly event: EventEnvelope,
    state: ConversationState,
    readonly ctx: EvaluationContext,
  ) {
    this.state = state;
    this.profile = state.profile;
    this.auto = { ...(state.automation ?? {}) };
  }

  get now(): number {
    return this.ctx.now;
  }

  get seq(): number {
    return this.ctx.seq;
  }

  get rulesVersion(): string {
    return this.set.version;
  }

  newTimerId = (): string => `${this.ctx.seq}.${this.#timerSeq++}`;

  doc(journey?: { id: string; version: string; step: string }): Record<string, unknown> {
    return {
      event: this.#docEvent ?? this.event,
      profile: this.profile ?? EMPTY,
      conversation: this.state,
      now: this.now,
      ...(journey ? { journey } : {}),
    };
  }

  addTimer(timer: Omit<Timer, 'id'>): string {
    const id = this.newTimerId();
    this.auto.timers = insertTimer(this.auto.timers, { ...timer, id } as Timer);
    return id;
  }

  cancelTimer(id: string | undefined): void {
    if (id === undefined || !this.auto.timers) return;
    this.auto.timers = this.auto.timers.filter((t) => t.id !== id);
  }

  trigger(): DecisionMeta['trigger'] {
    return { eventId: this.event.id, type: this.event.type, seq: this.ctx.seq };
  }

  // --- rules -------------------------------------------------------------------------------------------

  runRule(rule: CompiledRule): void {
    let actions: CompiledAction[] = rule.actions ?? [];
    let variant: string | undefined;
    if (rule.variants) {
      const sticky = this.auto.variants?.[rule.id];
      const chosen = rule.variants.find((v) => v.id === sticky)
        ? sticky!
        : pickVariant(rule.variants, rule.id, this.event.tenant, this.event.conversation);
      if (sticky !== chosen) this.auto.variants = { ...this.auto.variants, [rule.id]: chosen };
      variant = chosen;
      actions = rule.variants.find((v) => v.id === chosen)!.actions;
    }
    const decision: DecisionMeta = { rulesVersion: this.set.version, ...(variant ? { variant } : {}) };
    const doc = variant ? { ...this.doc(), variant } : this.doc();
    if (rule.window) {
      feedWindow(this, { ...rule, window: rule.window }, actions, decision, doc);
      return;
    }
    const trigger = rule.cancels.length > 0 ? keptTrigger(this.event, this.ctx.seq, rule.cancels) : undefined;
    const delayed = new Map<number, ActionEffect[]>();
    for (const a of actions) {
      const effect = renderAction(a, rule.id, doc, decision);
      if (a.delayMs === 0) this.proposals.push(effect);
      else delayed.set(a.delayMs, [...(delayed.get(a.delayMs) ?? []), effect]);
    }
    for (const [delayMs, effects] of delayed) {
      this.addTimer({
        at: this.now + delayMs,
        kind: 'action',
        rule: rule.id,
        ...(trigger ? { trigger } : {}),
        actions: effects.map((e) => ({
          channel: e.channel,
          rule: e.rule,
          template: e.template,
          variables: e.variables,
          decision: { ...decision, trigger: this.trigger() },
        })),
      });
    }
  }

  runRules(): void {
    for (const rule of this.set.rulesByType.get(this.event.type) ?? []) {
      if (rule.tenants && !rule.tenants.has(this.event.tenant)) continue;
      if (rule.matches(this.doc())) this.runRule(rule);
    }
  }

  runCancels(): void {
    for (const rule of this.set.cancelsByType.get(this.event.type) ?? []) {
      if (rule.tenants && !rule.tenants.has(this.event.tenant)) continue;
      cancelPending(this, rule, this.doc());
    }
  }

  // --- timers ------------------------------------------------------------------------------------------

  /**
   * Fires the timers due by this event, before anything else it does: on its wake-up, and on any other
   * event whose stream time has reached them (the wake-up may still be on its way), so an event never
   * overtakes a timer that was due before it; returns whether the indexed wake-up was consumed.
   */
  fireTimers(): boolean {
    const wake = this.event.type === WAKE_TYPE;
    const due = wake ? Number(this.event.attributes.due) : Number.NaN;
    const consumed = wake && this.auto.wake !== undefined && this.auto.wake === due;
    if (consumed) delete this.auto.wake;
    const limit = Math.max(this.now, Number.isFinite(due) ? due : 0);
    const timers = this.auto.timers ?? [];
    if (timers.length === 0 || timers[0]!.at > limit) return consumed;
    const fired = timers.filter((t) => t.at <= limit);
    this.auto.timers = timers.filter((t) => t.at > limit);
    for (const t of fired) {
      if (!wake) this.#docEvent = this.wakeAt(t.at);
      this.fire(t);
    }
    this.#docEvent = undefined;
    return consumed;
  }

  /** The wake-up event of a timer due at `at`, as the simulator and the timer wheel would publish it. */
  wakeAt(at: number): EventEnvelope {
    const { tenant, conversation } = this.event;
    return {
      schema: this.event.schema,
      id: `wake.${tenant}.${conversation}.${at}`,
      type: WAKE_TYPE,
      tenant,
      conversation,
      occurredAt: new Date(at).toISOString(),
      attributes: { due: at },
    };
  }

  /** One due timer: its send, journey step, window close or detector signal (stale ones do nothing). */
  fire(t: Timer): void {
    if (t.kind === 'inactivity') {
      if (this.set.detectors.inactivity.some((d) => d.id === t.detector))
        this.effects.push(inactivitySignal(this.set.detectors, t, this.profile));
    } else if (t.kind === 'window') {
      const w = this.auto.windows?.[t.rule!];
      if (!w || w.timer !== t.id) return; // stale: the window moved on
      this.fired.push({ rule: t.rule!, pending: w.kind, at: t.at, trigger: lastOf(w.events) });
      closeWindow(this, t.rule!, w, 'window');
    } else if (t.kind === 'action') {
      const rule = ruleOfTimer(t);
      if (rule)
        this.fired.push({ rule, pending: 'delay', at: t.at, ...(t.trigger ? { trigger: t.trigger } : {}) });
      for (const a of t.actions ?? [])
        this.proposals.push({
          type: 'action',
          channel: a.channel,
          rule: a.rule,
          template: a.template,
          variables: a.variables,
          decision: a.decision,
        });
    } else {
      const run = this.auto.journeys?.[t.journey!];
      if (!run || run.timer !== t.id) return; // stale: the run moved on
      const j = pinned(this, t.journey!, run);
      const step = j?.steps.get(run.step);
      if (!j || !step) return;
      if (step.kind === 'delay') advance(this, j, run, step.next!, [`${step.id}:elapsed`]);
      else if (step.kind === 'wait') advance(this, j, run, step.onTimeout!, [`${step.id}:on_timeout`]);
    }
  }

  adminTrigger(): void {
    const { rule, journey } = this.event.attributes as { rule?: unknown; journey?: unknown };
    if (typeof rule === 'string') {
      const r = this.set.rules.find((x) => x.id === rule);
      if (r) this.runRule(r);
    }
    if (typeof journey === 'string') {
      const j = this.set.journeys.get(journey);
      if (j) enter(this, j, true);
    }
  }

  run(): Evaluation {
    const consumed = this.fireTimers();
    const step = applyProfileAndDetectors(
      this.set.detectors,
      this.event,
      this.profile,
      this.auto,
      this.now,
      this.newTimerId,
    );
    this.profile = step.profile;
    this.effects.push(...step.emits);
    if (this.profile !== this.state.profile) this.state = { ...this.state, profile: this.profile };

    this.runCancels();
    runExits(this);
    runWaits(this);
    if (this.event.type === ADMIN_TRIGGER_TYPE) this.adminTrigger();
    this.runRules();
    runEntries(this);

    const earliest = this.auto.timers?.[0]?.at;
    if (earliest !== undefined) {
      if (this.auto.wake === undefined || earliest < this.auto.wake) {
        this.effects.push({ type: 'wake', at: earliest });
        this.auto.wake = earliest;
      }
    } else if (consumed) {
      this.effects.push({ type: 'wake', at: null });
    }
    const automation = compact(this.auto);
    let state = this.state;
    if (automation) state = { ...state, automation };
    else if (state.automation) {
      state = { ...state };
      delete state.automation;
    }
    return { state, proposals: this.proposals, effects: this.effects };
  }
}

function compact(auto: AutomationState): AutomationState | undefined {
  const out: AutomationState = {};
  if (auto.journeys && Object.keys(auto.journeys).length > 0) out.journeys = auto.journeys;
  if (auto.history && Object.keys(auto.history).length > 0) out.history = auto.history;
  if (auto.timers && auto.timers.length > 0) out.timers = auto.timers;
  if (auto.wake !== undefined) out.wake = auto.wake;
  if (auto.variants && Object.keys(auto.variants).length > 0) out.variants = auto.variants;
  if (auto.windows && Object.keys(auto.windows).length > 0) out.windows = auto.windows;
  if (auto.failures && auto.failures.length > 0) out.failures = auto.failures;
  return Object.keys(out).length > 0 ? out : undefined;
}

function lastOf(events: readonly CollectedEvent[]): CollectedEvent | undefined {
  return events[events.length - 1];
}

export function evaluateEvent(
  set: RuleSet,
  event: EventEnvelope,
  state: ConversationState,
  ctx: EvaluationContext,
): Evaluation {
  return new Evaluator(set, event, state, ctx).run();
}
