/**
 * Engagement level of the conversation (not of one message), from its counters: `new` (at most one inbound
 * message), `engaged` (replied recently), `dormant` (no inbound message within `dormantAfterMs`). Recorded in
 * the decision path; it never blocks on its own.
 */
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ClassifierVerdict } from './verdict.js';

export interface EngagementInput {
  state: ConversationState;
  now: number;
  /** Event types that count as the fan speaking. */
  inboundTypes: readonly string[];
  dormantAfterMs: number;
}

export function classifyEngagement({
  state,
  now,
  inboundTypes,
  dormantAfterMs,
}: EngagementInput): ClassifierVerdict {
  const inbound = state.profile?.messagesIn ?? inboundTypes.reduce((n, t) => n + (state.counts[t] ?? 0), 0);
  const last = state.profile?.lastInboundAt ? Date.parse(state.profile.lastInboundAt) : undefined;
  let label = 'engaged';
  if (inbound <= 1) label = 'new';
  else if (last !== undefined && now - last > dormantAfterMs) label = 'dormant';
  return { type: 'classification', classifier: 'engagement', label, confidence: 1 };
}
