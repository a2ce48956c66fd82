/**
 * What a rule leaves pending and what ends it early: debounce and digest windows, and `cancel_on`.
 * Pure, like the engine that calls it (engine.ts): time is the event's stream time, state lives in the
 * conversation's AutomationState (`windows`, `timers`), and every wake-up is a durable timer.
 *
 * - debounce: each matching event replaces the window's last event and pushes its timer to
 *   `now + window`, never past `openedAt + max`; when it fires, one send carries the last event as `event`.
 * - digest: the first matching event opens the window with a timer at `openedAt + window`; every matching
 *   event is appended once (a redelivered event is deduplicated by the runtime before it gets here); the
 *   window closes when the timer fires, at `max_events` or at DIGEST_MAX_BYTES of collected attributes, with
 *   one send carrying `digest { count, events }`.
 * - cancel_on: a matching event removes the rule's pending delayed actions and its open window. A timer due
 *   at or before the cancelling event's stream time has already fired (the engine fires due timers before
 *   anything else an event does), so a cancel in the same millisecond as its timer loses, every time; the
 *   audit (kind `cancel`) records `cancelled` or `too_late` with the due time.
 */
import type {
  AutomationState,
  CollectedEvent,
  PendingAction,
  RuleWindow,
  Timer,
} from '../contracts/conversation/automation.js';
import type { ActionEffect, DecisionMeta, Digest, Effect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { type CompiledAction, type CompileIssue, renderAction } from './actions.js';
import { compileFilter, FilterError, type FilterOptions, type Predicate } from './filter.js';
import { type CancelOn, typesOf } from './schema.js';

/**
 * A digest also closes once its collected attributes reach this size (JSON bytes), whatever `max_events`
 * says: the window lives in the conversation state and the send carries it, and both must stay well under
 * the server's message size (1 MB by default; one event's attributes are at most 32 KiB).
 */
export const DIGEST_MAX_BYTES = 256 * 1024;

export interface CompiledCancel {
  types: ReadonlySet<string>;
  matches: Predicate;
  /** The `/trigger/attributes/<key>`s its filter reads (`all`: the whole attributes object). */
  reads: readonly string[] | 'all';
}

export interface CompiledWindow {
  kind: 'debounce' | 'digest';
  windowMs: number;
  /** debounce: the latest close after the first event. */
  maxMs?: number;
  /** digest: close as soon as this many are collected. */
  maxEvents?: number;
}

/** The rule as this module needs it (a CompiledRule). */
export interface PendingRule {
  id: string;
  window?: CompiledWindow;
  cancels: readonly CompiledCancel[];
}

export function compileCancels(
  spec: CancelOn | CancelOn[] | undefined,
  options: FilterOptions,
  path: Array<string | number>,
  issues: CompileIssue[],
): CompiledCancel[] {
  if (spec === undefined) return [];
  const list = Array.isArray(spec) ? spec : [spec];
  return list.map((c, i) => {
    const at = Array.isArray(spec) ? [...path, i] : path;
    let matches: Predicate = () => false;
    try {
      matches = compileFilter(c.when, { ...options, cancel: true });
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      issues.push({ path: [...at, 'when', err.key], message: err.message });
    }
    return { types: new Set(typesOf(c.on)), matches, reads: triggerReads(c.when) };
  });
}

/** The trigger attributes a filter reads, in its keys or its `{{/trigger/...}}` operands. */
function triggerReads(filter: unknown): string[] | 'all' {
  const text = JSON.stringify(filter);
  if (/\/trigger\/attributes(?![/\w~])/.test(text)) return 'all';
  const keys = new Set<string>();
  for (const m of text.matchAll(/\/trigger\/attributes\/([^/"}|\s]+)/g))
    keys.add(m[1]!.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [...keys].sort();
}

/**
 * The trigger to keep for `cancels`: the event's id, type and time, and only the attributes their filters
 * read (a rule may have many sends pending, each keeping its trigger in the conversation state).
 */
export function keptTrigger(
  event: EventEnvelope,
  seq: number,
  cancels: readonly CompiledCancel[],
): CollectedEvent {
  const all = cancels.some((c) => c.reads === 'all');
  const attributes: Record<string, unknown> = {};
  if (!all)
    for (const c of cancels)
      for (const k of c.reads as string[]) if (k in event.attributes) attributes[k] = event.attributes[k];
  return { ...collected(event, seq), attributes: all ? event.attributes : attributes };
}

/** The first cancel that `event` (in `doc`, with `/trigger`) satisfies. */
export function cancelling(
  cancels: readonly CompiledCancel[],
  type: string,
  doc: Record<string, unknown>,
): CompiledCancel | undefined {
  return cancels.find((c) => c.types.has(type) && c.matches(doc));
}

export function collected(event: EventEnvelope, seq: number): CollectedEvent {
  return {
    id: event.id,
    type: event.type,
    occurredAt: event.occurredAt,
    attributes: event.attributes,
    seq,
  };
}

export function digestOf(events: readonly CollectedEvent[]): Digest {
  return {
    count: events.length,
    events: events.map((e) => ({
      id: e.id,
      type: e.type,
      occurredAt: e.occurredAt,
      attributes: e.attributes,
    })),
  };
}

/** The rule a pending action timer belongs to (timers set before `rule` was recorded: their actions'). */
export function ruleOfTimer(t: Timer): string | undefined {
  return t.rule ?? t.actions?.[0]?.rule;
}

/** What the pending module needs of the engine's evaluation of one event. */
export interface PendingHost {
  readonly auto: AutomationState;
  readonly event: EventEnvelope;
  readonly seq: number;
  readonly now: number;
  readonly rulesVersion: string;
  readonly proposals: ActionEffect[];
  readonly effects: Effect[];
  /** Pending sends that fired in this evaluation, before the event's own work (for `too_late` audits). */
  readonly fired: Array<{ rule: string; pending: string; at: number; trigger?: CollectedEvent }>;
  addTimer(timer: Omit<Timer, 'id'>): string;
  cancelTimer(id: string | undefined): void;
  trigger(): DecisionMeta['trigger'];
}

function setWindow(host: PendingHost, key: string, w: RuleWindow | undefined): void {
  const windows = { ...host.auto.windows };
  if (w) windows[key] = w;
  else delete windows[key];
  host.auto.windows = windows;
}

/** Closes a window: one send per action, the last event as `event`, a digest its collected events. */
export function closeWindow(host: PendingHost, key: string, w: RuleWindow, why: string): void {
  host.cancelTimer(w.timer);
  setWindow(host, key, undefined);
  const last = w.events[w.events.length - 1]!;
  const digest = w.kind === 'digest' ? digestOf(w.events) : undefined;
  for (const a of w.actions)
    host.proposals.push({
      type: 'action',
      channel: a.channel,
      rule: a.rule,
      template: a.template,
      variables: a.variables,
      decision: a.decision,
      event: { id: last.id, type: last.type, attributes: last.attributes, seq: last.seq },
      ...(digest ? { digest } : {}),
    });
  host.effects.push({
    type: 'audit',
    kind: 'window',
    record: {
      rule: key,
      window: w.kind,
      outcome: 'closed',
      why,
      openedAt: new Date(w.openedAt).toISOString(),
      count: w.events.length,
      events: w.events.map((e) => e.id),
      rulesVersion: host.rulesVersion,
    },
  });
}

/**
 * Feeds the current event to a rule's window (opening it if none is open) and renders what it would send
 * now; a digest at `max_events` closes at once.
 */
export function feedWindow(
  host: PendingHost,
  rule: PendingRule & { window: CompiledWindow },
  actions: readonly CompiledAction[],
  decision: DecisionMeta,
  doc: Record<string, unknown>,
): void {
  const spec = rule.window;
  const open = host.auto.windows?.[rule.id];
  const current = open?.kind === spec.kind ? open : undefined;
  if (open && !current) host.cancelTimer(open.timer); // the rule changed kind: start over
  const event = collected(host.event, host.seq);
  const events = spec.kind === 'digest' ? [...(current?.events ?? []), event] : [event];
  const openedAt = current?.openedAt ?? host.now;
  const digest = spec.kind === 'digest' ? digestOf(events) : undefined;
  const renderDoc = digest ? { ...doc, digest } : doc;
  const pending: PendingAction[] = actions.map((a) => {
    const e = renderAction(a, rule.id, renderDoc, { ...decision, trigger: host.trigger() });
    return {
      channel: e.channel,
      rule: e.rule,
      template: e.template,
      variables: e.variables,
      decision: e.decision!,
    };
  });
  let timer = current?.timer;
  if (spec.kind === 'debounce' || !current) {
    const closeAt =
      spec.kind === 'debounce'
        ? Math.min(host.now + spec.windowMs, openedAt + (spec.maxMs ?? Number.POSITIVE_INFINITY))
        : openedAt + spec.windowMs;
    host.cancelTimer(timer);
    timer = host.addTimer({ at: closeAt, kind: 'window', rule: rule.id });
  }
  const bytes =
    spec.kind === 'digest' ? (current?.bytes ?? 0) + JSON.stringify(event.attributes).length : undefined;
  const w: RuleWindow = {
    kind: spec.kind,
    openedAt,
    timer: timer!,
    events,
    actions: pending,
    ...(bytes !== undefined ? { bytes } : {}),
  };
  if (spec.kind === 'digest' && events.length >= (spec.maxEvents ?? Number.POSITIVE_INFINITY))
    closeWindow(host, rule.id, w, 'max_events');
  else if (bytes !== undefined && bytes >= DIGEST_MAX_BYTES) closeWindow(host, rule.id, w, 'max_bytes');
  else setWindow(host, rule.id, w);
}

function cancelAudit(
  host: PendingHost,
  rule: string,
  outcome: 'cancelled' | 'too_late',
  pending: string,
  at: number,
  extra: Record<string, unknown> = {},
): void {
  host.effects.push({
    type: 'audit',
    kind: 'cancel',
    record: {
      rule,
      outcome,
      pending,
      due: new Date(at).toISOString(),
      cancelledBy: { eventId: host.event.id, type: host.event.type, seq: host.seq },
      rulesVersion: host.rulesVersion,
      ...extra,
    },
  });
}

/**
 * Applies a rule's `cancel_on` to the current event: its pending delayed actions and open window whose
 * `/trigger` the cancel's filter accepts are removed (audit `cancelled`); what already fired in this
 * evaluation because it was due is reported `too_late`.
 */
export function cancelPending(host: PendingHost, rule: PendingRule, doc: Record<string, unknown>): void {
  const type = host.event.type;
  const accepts = (trigger: CollectedEvent | undefined) =>
    cancelling(rule.cancels, type, { ...doc, trigger: trigger ?? {} }) !== undefined;
  for (const t of host.auto.timers ?? []) {
    if (t.kind !== 'action' || ruleOfTimer(t) !== rule.id || !accepts(t.trigger)) continue;
    host.cancelTimer(t.id);
    cancelAudit(host, rule.id, 'cancelled', 'delay', t.at, {
      actions: (t.actions ?? []).map((a) => `${a.channel}:${a.template}`),
    });
  }
  const w = host.auto.windows?.[rule.id];
  if (w && accepts(w.events[w.events.length - 1])) {
    const at = (host.auto.timers ?? []).find((t) => t.id === w.timer)?.at ?? host.now;
    host.cancelTimer(w.timer);
    setWindow(host, rule.id, undefined);
    cancelAudit(host, rule.id, 'cancelled', w.kind, at, { events: w.events.map((e) => e.id) });
  }
  for (const f of host.fired)
    if (f.rule === rule.id && accepts(f.trigger)) cancelAudit(host, rule.id, 'too_late', f.pending, f.at);
}
