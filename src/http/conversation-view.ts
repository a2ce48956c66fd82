/**
 * One conversation as the API and `parley conversation show` present it: the stored state and its recent
 * decision trail, in one shape (`ConversationResponseSchema`), so both print the same.
 */
import type { ConversationReader, TrailEntry } from './ports.js';

export interface ConversationView {
  tenant: string;
  conversation: string;
  /** Last EVENTS sequence applied (0 when only a trail exists). */
  seq: number;
  state: unknown;
  trail: TrailEntry[];
}

/** Undefined when the conversation has neither state nor trail. */
export async function conversationView(
  reader: ConversationReader,
  tenant: string,
  conversation: string,
  trailLimit: number,
): Promise<ConversationView | undefined> {
  const [stored, trail] = await Promise.all([
    reader.read(tenant, conversation),
    reader.trail(tenant, conversation, trailLimit),
  ]);
  if (!stored && trail.length === 0) return undefined;
  return { tenant, conversation, seq: stored?.seq ?? 0, state: stored?.state ?? null, trail };
}
