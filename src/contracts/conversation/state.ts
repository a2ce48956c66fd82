import type { AutomationState, Profile } from './automation.js';
import type { SafetyState } from './safety-state.js';

/**
 * The state of one conversation, as stored (msgpack) in the parley-state bucket under <tenant>.<conversation>.
 * Kept small: it is read and written on the hot path.
 */
export interface ConversationState {
  tenant: string;
  conversation: string;
  /** Events applied to this conversation. */
  events: number;
  /** Events applied, by type. */
  counts: Record<string, number>;
  /** The last event applied. */
  last?: { id: string; type: string; occurredAt: string; seq: number };
  /**
   * Rolling FNV-1a digest of applied event IDs, in order: equal digests mean the same events were applied
   * in the same order exactly once. Lets tests and operators verify ordering without storing history.
   */
  digest: string;
  /** Actions decided so far. */
  actions: number;
  /** Profile attributes and derived counters (rules engine). */
  profile?: Profile;
  /** Journeys, timers, detector memory (rules engine). */
  automation?: AutomationState;
  /** Escalation, holds, consent, caps memory (the safety gate, src/safety/). */
  safety?: SafetyState;
}

export function initialConversationState(tenant: string, conversation: string): ConversationState {
  return { tenant, conversation, events: 0, counts: {}, digest: '811c9dc5', actions: 0 };
}

/** FNV-1a (32-bit) of `previous` hex digest followed by `id`. */
export function nextDigest(previous: string, id: string): string {
  let h = Number.parseInt(previous, 16) >>> 0;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= 0x2c; // separator, so ["ab","c"] and ["a","bc"] differ
  h = Math.imul(h, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Digest of a sequence of event IDs, as the actor would compute it applying them in order. */
export function digestOf(ids: Iterable<string>): string {
  let d = initialConversationState('', '').digest;
  for (const id of ids) d = nextDigest(d, id);
  return d;
}
