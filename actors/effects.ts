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
}

/** A derived event back into EVENTS for the same conversation (detector signals, timer firings). */
export interface EmitEffect {
  type: 'emit';
  eventType: string;
  attributes: Record<string, unknown>;
}

export type Effect = ActionEffect | AuditEffect | EscalateEffect | EmitEffect;
