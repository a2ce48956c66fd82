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
 *   7. journeys whose entry matches start (re-entry policy permitting) on the current version,
 *   8. the earliest timer becomes the conversation's wake-up (written lazily: only when it moves earlier).
 * Proposed actions go through the safety gate in the actor; emits, audits and the wake-up do not.
 */
import type {
  AutomationState,
  CollectedEvent,
  JourneyRun,
  Profile,
  Timer,
} from '../contracts/conversation/automation.js';
import type { Evaluation, EvaluationContext } from '../contracts/conversation/decider.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect, DecisionMeta, Effect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { WAKE_EVENT_TYPE } from '../contracts/event-types.js';
import { type CompiledAction, renderAction } from './actions.js';
import type { CompiledJourney } from './journey.js';
import {
  cancelling,
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
const MAX_STEPS_PER_EVENT = 1000;
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

class Evaluator implements PendingHost {
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

  // --- journeys ----------------------------------------------------------------------------------------

  setRun(id: string, run: JourneyRun | undefined): void {
    const journeys = { ...this.auto.journeys };
    if (run) journeys[id] = run;
    else delete journeys[id];
    this.auto.journeys = journeys;
  }

  exitRun(j: { id: string; version: string }, run: JourneyRun, reason: string, path: string[]): void {
    this.cancelTimer(run.timer);
    this.setRun(j.id, undefined);
    const h = this.auto.history?.[j.id] ?? { runs: 1 };
    this.auto.history = { ...this.auto.history, [j.id]: { ...h, lastExitAt: this.now, lastExit: reason } };
    this.audit(j, run, path, `exited:${reason}`);
  }

  audit(j: { id: string; version: string }, run: JourneyRun, path: string[], outcome: string): void {
    this.effects.push({
      type: 'audit',
      kind: 'journey',
      record: {
        journey: j.id,
        journeyVersion: j.version,
        rulesVersion: this.set.version,
        startedBy: run.startedBy,
        trigger: { eventId: this.event.id, type: this.event.type, seq: this.ctx.seq },
        path,
        outcome,
      },
    });
  }

  /** Runs a journey from `stepId` until it waits, delays or exits. `path` starts with how it got there. */
  advance(j: CompiledJourney, start: JourneyRun, stepId: string, path: string[]): void {
    let run: JourneyRun = { ...start, timer: undefined };
    let id = stepId;
    for (let guard = 0; guard < MAX_STEPS_PER_EVENT; guard++) {
      const step = j.steps.get(id)!;
      path.push(id);
      if (step.maxVisits !== undefined) {
        const visits = run.visits?.[id] ?? 0;
        if (visits >= step.maxVisits) {
          this.exitRun(j, run, 'max_visits', path);
          return;
        }
        run = { ...run, visits: { ...run.visits, [id]: visits + 1 } };
      }
      run = { ...run, step: id, stepAt: this.now };
      const where = { id: j.id, version: j.version, step: id };
      switch (step.kind) {
        case 'action': {
          const decision: DecisionMeta = { rulesVersion: run.startedBy, journey: where };
          const doc = this.doc(where);
          for (const a of step.actions) this.proposals.push(renderAction(a, j.id, doc, decision));
          id = step.next!;
          continue;
        }
        case 'branch': {
          const doc = this.doc(where);
          id = step.cases.find((c) => c.matches(doc))?.next ?? step.next!;
          continue;
        }
        case 'delay':
        case 'wait': {
          const ms = step.kind === 'delay' ? step.delayMs : step.wait!.timeoutMs;
          run.timer = this.addTimer({ at: this.now + ms, kind: 'journey', journey: j.id });
          this.setRun(j.id, run);
          this.audit(j, run, path, step.kind === 'delay' ? 'delaying' : 'waiting');
          return;
        }
        case 'exit':
          this.setRun(j.id, run);
          this.exitRun(j, run, step.exitReason ?? 'completed', path);
          return;
      }
    }
    this.exitRun(j, run, 'step_limit', path);
  }

  /** The journey a run is pinned to; a run whose version is gone exits (recorded). */
  pinned(id: string, run: JourneyRun): CompiledJourney | undefined {
    const j = this.set.journeyAt(id, run.version);
    if (!j) this.exitRun({ id, version: run.version }, run, 'version_unavailable', [run.step]);
    return j;
  }

  /** `exit_on` of each journey in flight and `cancel_on` of the step it rests at. */
  runExits(): void {
    const runs = this.auto.journeys;
    if (!runs) return;
    const type = this.event.type;
    for (const id of Object.keys(runs).sort()) {
      const run = this.auto.journeys?.[id];
      if (!run) continue;
      const j = this.pinned(id, run);
      if (!j?.cancelTypes.has(type)) continue;
      const doc = { ...this.doc({ id, version: j.version, step: run.step }), trigger: run.trigger ?? {} };
      if (cancelling(j.exitOn, type, doc)) this.exitRun(j, run, `exit_on:${type}`, [run.step]);
      else if (cancelling(j.steps.get(run.step)?.cancels ?? [], type, doc))
        this.exitRun(j, run, `cancelled:${run.step}`, [run.step]);
    }
  }

  runCancels(): void {
    for (const rule of this.set.cancelsByType.get(this.event.type) ?? []) {
      if (rule.tenants && !rule.tenants.has(this.event.tenant)) continue;
      cancelPending(this, rule, this.doc());
    }
  }

  runWaits(): void {
    const runs = this.auto.journeys;
    if (!runs) return;
    for (const id of Object.keys(runs).sort()) {
      const run = this.auto.journeys?.[id];
      if (!run) continue;
      const j = this.pinned(id, run);
      const step = j?.steps.get(run.step);
      if (!j || step?.kind !== 'wait' || !step.wait!.types.has(this.event.type)) continue;
      if (!step.wait!.matches(this.doc({ id, version: j.version, step: step.id }))) continue;
      this.cancelTimer(run.timer);
      this.advance(j, run, step.onEvent!, [`${step.id}:on_event`]);
    }
  }

  enter(j: CompiledJourney, forced: boolean): void {
    const current = this.auto.journeys?.[j.id];
    const history = this.auto.history?.[j.id];
    if (!forced) {
      if (j.reentry === 'once' && (history || current)) return;
      if (j.reentry === 'after_exit' && current) return;
    }
    if (current) this.exitRun(j, current, forced ? 'retriggered' : 'reentered', [current.step]);
    this.auto.history = {
      ...this.auto.history,
      [j.id]: { ...(this.auto.history?.[j.id] ?? {}), runs: (this.auto.history?.[j.id]?.runs ?? 0) + 1 },
    };
    const run: JourneyRun = {
      version: j.version,
      startedBy: this.set.version,
      step: j.start,
      enteredAt: this.now,
      stepAt: this.now,
      ...(j.cancelTypes.size > 0 ? { trigger: keptTrigger(this.event, this.ctx.seq, j.cancels) } : {}),
    };
    this.advance(j, run, j.start, [`entry:${this.event.type}`]);
  }

  runEntries(): void {
    for (const j of this.set.entriesByType.get(this.event.type) ?? []) {
      if (j.tenants && !j.tenants.has(this.event.tenant)) continue;
      if (j.entryMatches(this.doc())) this.enter(j, false);
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
      const j = this.pinned(t.journey!, run);
      const step = j?.steps.get(run.step);
      if (!j || !step) return;
      if (step.kind === 'delay') this.advance(j, run, step.next!, [`${step.id}:elapsed`]);
      else if (step.kind === 'wait') this.advance(j, run, step.onTimeout!, [`${step.id}:on_timeout`]);
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
      if (j) this.enter(j, true);
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
    this.runExits();
    this.runWaits();
    if (this.event.type === ADMIN_TRIGGER_TYPE) this.adminTrigger();
    this.runRules();
    this.runEntries();

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
