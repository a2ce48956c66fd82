/**
 * Helpers for the Postgres source tests: what EVENTS and DLQ hold (read independently of the source, by
 * direct get, so no consumer is created), and waiting on it.
 */
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { waitFor } from './parley.js';

export interface StoredOutboxEvent {
  seq: number;
  subject: string;
  id: string;
  conversation: string;
  type: string;
  occurredAt: string;
  attributes: Record<string, unknown>;
}

/** Every message on `stream` matching `filter`, in stream order. */
export async function storedMessages(
  h: NatsHandles,
  stream: string,
  filter: string,
): Promise<
  Array<{ seq: number; subject: string; body: Record<string, unknown>; headers: Map<string, string> }>
> {
  const out: Array<{
    seq: number;
    subject: string;
    body: Record<string, unknown>;
    headers: Map<string, string>;
  }> = [];
  let seq = 1;
  for (;;) {
    const m = await h.jsm.direct.getMessage(stream, { seq, next_by_subj: filter });
    if (!m) break;
    const hdrs = new Map<string, string>();
    if (m.header) for (const [k] of m.header) hdrs.set(k, m.header.get(k));
    out.push({
      seq: m.seq,
      subject: m.subject,
      body: decodeMsgpack(m.data) as Record<string, unknown>,
      headers: hdrs,
    });
    seq = m.seq + 1;
  }
  return out;
}

/** The events of `tenant` on EVENTS (optionally of one type), in stream order. */
export async function storedEvents(
  h: NatsHandles,
  tenant: string,
  type?: string,
): Promise<StoredOutboxEvent[]> {
  return (await storedMessages(h, 'EVENTS', `evt.*.${tenant}.*.${type ?? '>'}`)).map((m) => ({
    seq: m.seq,
    subject: m.subject,
    id: m.body.id as string,
    conversation: m.body.conversation as string,
    type: m.body.type as string,
    occurredAt: m.body.occurredAt as string,
    attributes: m.body.attributes as Record<string, unknown>,
  }));
}

/** Waits until every id in `ids` is on EVENTS for `tenant`; returns all of the tenant's events then. */
export async function waitForEvents(
  h: NatsHandles,
  tenant: string,
  ids: readonly string[],
  timeoutMs = 60_000,
  type?: string,
): Promise<StoredOutboxEvent[]> {
  let last: StoredOutboxEvent[] = [];
  const filter = `evt.*.${tenant}.*.${type ?? '>'}`;
  try {
    return await waitFor(
      `${ids.length} outbox events on EVENTS`,
      async () => {
        // Count first (one request); read every message only once there can be enough.
        const info = await h.jsm.streams.info('EVENTS', { subjects_filter: filter });
        const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
        if (count < ids.length) return undefined;
        last = await storedEvents(h, tenant, type);
        const have = new Set(last.map((e) => e.id));
        return ids.every((id) => have.has(id)) ? last : undefined;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    const have = new Set(last.map((e) => e.id));
    const missing = ids.filter((id) => !have.has(id));
    throw new Error(
      `${(err as Error).message}; ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`,
    );
  }
}

/** ids that occur more than once. */
export function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const id of ids) (seen.has(id) ? dup : seen).add(id);
  return [...dup];
}
