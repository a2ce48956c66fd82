/**
 * One conversation as the API and `parley conversation show` present it: the stored state and its recent
 * decision trail, in one shape (`ConversationResponseSchema`), so both print the same. Also who resolved an
 * escalation, read from the same state, for the 409 a later resolution gets.
 */
import { EscalationResolvedError } from '../ops/safety-ops.js';
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

/**
 * An escalation found already resolved names who resolved it, from the conversation's state (its actor
 * records the applied resolution there): rethrows `err` with the name when it is known, else as it is.
 */
export async function nameTheResolver(
  err: unknown,
  reader: ConversationReader,
  escalation: { escalationId: string; tenant: string; conversation: string },
): Promise<never> {
  if (!(err instanceof EscalationResolvedError) || err.resolvedBy) throw err;
  const stored = await reader.read(escalation.tenant, escalation.conversation).catch(() => undefined);
  const resolved = (
    stored?.state as { safety?: { resolved?: { id?: unknown; by?: unknown; outcome?: unknown } } }
  )?.safety?.resolved;
  if (resolved?.id !== escalation.escalationId || typeof resolved.by !== 'string') throw err;
  throw new EscalationResolvedError(
    `escalation ${escalation.escalationId} is already resolved by ${resolved.by} (${String(resolved.outcome)})`,
    resolved.by,
  );
}
