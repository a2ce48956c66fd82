/**
 * The safety part of a conversation's state (`state.safety`), owned by the safety gate (src/safety/), its only
 * writer. Plain data, msgpack in parley-state; every field optional so that older stored states load and a
 * conversation that never met a guard stores nothing extra.
 */
import type { ActionEffect } from '../effects.js';

export type EscalationPriority = 'low' | 'normal' | 'high' | 'urgent';

/** An open escalation: automation is halted for the conversation until a human resolves it. */
export interface OpenEscalation {
  /** `<tenant>.<conversation>.<seq>`: stable across replays; what operators pass to `resolve`. */
  id: string;
  reason: string;
  priority: EscalationPriority;
  /** Stream time (ms) of the event that opened it. */
  openedAt: number;
  seq: number;
}

/** An action proposed while the conversation was escalated, released through every guard on `resume`. */
export interface HeldAction {
  action: ActionEffect;
  heldAt: number;
  /** The event that proposed it. */
  from: { eventId: string; type: string; seq: number };
}

/** Do-not-disturb as this conversation's own events set it (opt-out messages, `consent.updated`). */
export interface ConsentState {
  /** DND on every channel. */
  dnd: boolean;
  /** Per-channel DND (true) or explicit allow (false), overriding `dnd` for that channel. */
  channels?: Record<string, boolean>;
  at: number;
  source: 'opt-out' | 'operator';
  /** The opt-out message that set it (source opt-out): the one its confirmation may answer. */
  eventId?: string;
}

export interface SafetyState {
  escalation?: OpenEscalation;
  /** Automation stopped by an operator (an escalation resolved with `close`); `resume` of it reopens. */
  closed?: { escalationId: string; at: number };
  held?: HeldAction[];
  consent?: ConsentState;
  /** Approved send times (ms) per channel, pruned to the frequency-cap windows (only when caps are set). */
  sends?: Record<string, number[]>;
  /** Bridge messages sent so far, by classifier label. */
  bridges?: Record<string, number>;
  /** The conversation's current risk, from the last classified message. */
  risk?: { level: 'none' | 'low' | 'medium' | 'high'; label: string; at: number };
  /** The last resolved escalation. */
  resolved?: { id: string; outcome: string; at: number; by?: string };
}
