/**
 * Effects as data: what a transition wants done. The runtime executes them after the transition, with
 * message IDs derived from (tenant, conversation, source sequence, effect index), so a replay republishes
 * into the duplicate window instead of doing anything twice.
 */

/** An approved action for a connector channel (goes to ACTIONS as act.<channel>.<tenant>.<conversation>). */
export interface ActionEffect {
  type: 'action';
  channel: string;
  rule: string;
  template: string;
  variables: Record<string, unknown>;
  /** Defer the send by this many ms (carried to the connector). */
  delayMs?: number;
  /** Why: the rule set version and the path that decided it (recorded on the action and in AUDIT). */
  decision?: DecisionMeta;
  /** Publish the `action.sent` outcome into EVENTS once delivered (something in the rule set consumes it). */
  reportSent?: boolean;
  /** The safety gate's approval record (stage, classifiers, guards): the action is its own audit record. */
  approval?: Record<string, unknown>;
  /** The event the send is about when it is not the one evaluated (a debounced burst's last event). */
  event?: { id: string; type: string; attributes: Record<string, unknown>; seq: number };
  /** A digest's collected events, each exactly once, in stream order. */
  digest?: Digest;
  /**
   * A fixed action ID in place of the one derived from (source sequence, effect index): the send is about
   * something with an identity of its own (an opt-out confirmation: the opt-out event), so deciding it
   * again (a redelivery, a replay at another sequence) is the same send, deduplicated downstream.
   */
  id?: string;
  /**
   * This action is the one confirmation of the fan's opt-out in event `eventId` (set by the safety gate
   * only): it passes the consent guard, at decision and at send time, while the DND it confirms is that
   * event's own.
   */
  optOutConfirmation?: { eventId: string };
}

/** What a digest send carries (the action, the webhook body, `/digest` for its variables). */
export interface Digest {
  count: number;
  events: Array<{ id: string; type: string; occurredAt: string; attributes: Record<string, unknown> }>;
}

/** Where a decision came from. Every action the rules engine proposes carries one. */
export interface DecisionMeta {
  /** Content hash of the rule set that decided it. */
  rulesVersion: string;
  /** A/B variant chosen for this conversation, when the rule has variants. */
  variant?: string;
  /** The journey step that decided it, pinned to the journey version the run started on. */
  journey?: { id: string; version: string; step: string };
  /** The event that triggered the decision when it is sent later (a delay): id, type, stream sequence. */
  trigger?: { eventId: string; type: string; seq: number };
}

/** A decision record for AUDIT (audit.<kind>.<tenant>.<conversation>). */
export interface AuditEffect {
  type: 'audit';
  kind: string;
  record: Record<string, unknown>;
}

/** Halt automation and ask a human (ESCALATIONS: esc.<tenant>.<conversation>). */
export interface EscalateEffect {
  type: 'escalate';
  reason: string;
  priority: 'low' | 'normal' | 'high' | 'urgent';
  evidence: Record<string, unknown>;
  /** Stable escalation ID operators resolve (default: the message ID). */
  escalationId?: string;
  /** What a reviewer should do next. */
  suggestedNext?: string;
}

/** A derived event back into EVENTS for the same conversation (detector signals, timer firings). */
export interface EmitEffect {
  type: 'emit';
  eventType: string;
  attributes: Record<string, unknown>;
}

/**
 * Wake this conversation at `at` (ms, stream time), replacing its previous wake-up; `null` clears it. The
 * runtime records it in the partition's timer index (KV parley-timers) and, when due, publishes a
 * `timer.wake` event for the conversation into EVENTS. Not a message: it takes no effect index.
 */
export interface WakeEffect {
  type: 'wake';
  at: number | null;
}

/**
 * Write a JSON record to a KV bucket (a publish to `$KV.<bucket>.<key>`, executed with the other effects and
 * deduplicated like them); `value: null` deletes the key. For switches that other processes watch (consent,
 * escalation holds), written by the one actor that owns the conversation.
 */
export interface StoreEffect {
  type: 'store';
  bucket: string;
  key: string;
  value: Record<string, unknown> | null;
}

export type Effect = ActionEffect | AuditEffect | EscalateEffect | EmitEffect | WakeEffect | StoreEffect;
