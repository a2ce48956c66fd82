/**
 * The seam between deciding and doing: every action a rule or journey proposes passes through one
 * SafetyGate before it becomes an effect. The gate is pure like the transition (external switches such as
 * consent or kill switches reach it as snapshots in the context), and it may add effects of its own
 * (audit records, escalations) and update the conversation's `safety` sub-state.
 */

import type { ActionEffect, Effect } from '../effects.js';
import type { EventEnvelope } from '../envelope.js';
import type { ConversationState } from './state.js';

export interface GateInput {
  event: EventEnvelope;
  /** The state after the event was applied (counters, profile, journeys). */
  state: ConversationState;
  /** What the rules and journeys want to do, in decision order. */
  proposals: ActionEffect[];
  /** The event's stream time in ms. */
  now: number;
  /** Rule set version the proposals came from, for the audit trail. */
  rulesVersion: string;
  /** Stream sequence of the event (escalation IDs derive from it). */
  seq?: number;
  /** External switches as of now: kill switches, pauses, consent (snapshots kept current by KV watches). */
  switches?: SafetySwitches;
  /** What the runtime's async enrichment step (a model classifier) said about the event, if it ran. */
  enrichment?: Readonly<Record<string, unknown>>;
}

/** A read-only view of a KV bucket, kept current by a watch in the runtime (decoded JSON values). */
export interface SnapshotView {
  get(key: string): Readonly<Record<string, unknown>> | undefined;
}

/** The external switches the gate consults: `parley-control` (pause/kill, escalation holds), `parley-consent`. */
export interface SafetySwitches {
  control: SnapshotView;
  consent: SnapshotView;
}

export interface GateResult {
  state: ConversationState;
  effects: Effect[];
}

export interface SafetyGate {
  review(input: GateInput): GateResult;
}

/** No safety layer: every proposal goes out as is. */
export const passThroughGate: SafetyGate = {
  review: ({ state, proposals }) => ({ state, effects: proposals }),
};
