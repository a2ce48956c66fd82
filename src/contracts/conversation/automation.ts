/**
 * The automation part of a conversation's state: profile and derived counters, journeys in flight, durable
 * timers and detector memory. Plain data (msgpack in parley-state), owned by the rules engine
 * (src/rules/engine.ts), which is the only writer. Every field is optional so that older stored states load.
 */

/**
 * The conversation's profile: attributes set by `profile.updated` events (timeZone, locale, tier, ...) plus
 * derived counters the engine maintains. Derived names are reserved: `profile.updated` cannot overwrite them.
 */
export interface Profile {
  [attribute: string]: unknown;
  /** Sum of purchase amounts. */
  totalSpend?: number;
  purchases?: number;
  messagesIn?: number;
  messagesOut?: number;
  /** ISO-8601 times (the events' occurredAt). */
  lastInboundAt?: string;
  lastOutboundAt?: string;
  lastPurchaseAt?: string;
  /** Failed conversion attempts (failed payments, abandoned checkouts) ever seen. */
  failedConversions?: number;
}

import type { DecisionMeta } from '../effects.js';

/** A pending action decided earlier and proposed when its timer fires (a rule's `delay`). */
export interface PendingAction {
  channel: string;
  rule: string;
  template: string;
  variables: Record<string, unknown>;
  /** Rule set version, variant and the triggering event (id, type, stream sequence). */
  decision: DecisionMeta;
}

/**
 * An event as something pending keeps it: the events a digest collects, the last event of a debounced
 * burst, the event that set up what a `cancel_on` may cancel (`/trigger`).
 */
export interface CollectedEvent {
  id: string;
  type: string;
  occurredAt: string;
  attributes: Record<string, unknown>;
  /** Its stream sequence. */
  seq: number;
}

/** An open debounce or digest window of a rule: what it collected and what it sends when it closes. */
export interface RuleWindow {
  kind: 'debounce' | 'digest';
  /** When its first event came (ms, stream time). */
  openedAt: number;
  /** The id of the timer that closes it. */
  timer: string;
  /** digest: every collected event, in order; debounce: the last one. */
  events: CollectedEvent[];
  /** What it sends, rendered on its last event. */
  actions: PendingAction[];
  /** digest: the collected attributes' size as JSON (it closes early when large). */
  bytes?: number;
}

/** A durable timer: fires when the conversation is woken at or after `at` (ms, stream time). */
export interface Timer {
  /** `<seq>.<n>`: unique within the conversation, stable across replays. */
  id: string;
  at: number;
  kind: 'journey' | 'action' | 'inactivity' | 'window';
  /** journey: the journey id whose run set it. */
  journey?: string;
  /** action, window: the rule that set it (window: its key in `windows`). */
  rule?: string;
  /** action of a rule with `cancel_on`: the event that set it up (`/trigger` of the cancelling filter). */
  trigger?: CollectedEvent;
  /** inactivity: the detector id. */
  detector?: string;
  /** action: what to propose when it fires. */
  actions?: PendingAction[];
}

/** One journey run in flight, pinned to the version it started on. */
export interface JourneyRun {
  /** Journey version (content hash) the run started on and finishes on. */
  version: string;
  /** Rule set version that started it. */
  startedBy: string;
  step: string;
  /** When the run entered the journey and the current step (ms, stream time). */
  enteredAt: number;
  stepAt: number;
  /** The timer of the current delay/wait step. */
  timer?: string;
  /** Visits per step, kept only for steps with max_visits. */
  visits?: Record<string, number>;
  /** The event that started it, kept when the journey has `exit_on` or a step `cancel_on` (`/trigger`). */
  trigger?: CollectedEvent;
}

export interface JourneyHistory {
  runs: number;
  lastExitAt?: number;
  lastExit?: string;
}

export interface AutomationState {
  journeys?: Record<string, JourneyRun>;
  history?: Record<string, JourneyHistory>;
  /** Sorted by `at`, then id. */
  timers?: Timer[];
  /** The wake-up time last written to the timer index (lazy: may be earlier than the first timer). */
  wake?: number;
  /** Open debounce and digest windows, by rule id. */
  windows?: Record<string, RuleWindow>;
  /** Sticky A/B assignments: rule id -> variant id. */
  variants?: Record<string, string>;
  /** Times (ms) of recent failed conversion attempts, inside the detector's window. */
  failures?: number[];
}
