/**
 * Load drivers for the fault harness: events produced through the HTTP ingest API (POST /v1/events) and
 * straight to NATS (`ingest.<tenant>.<conversation>.<type>`), recording what was acknowledged.
 *
 * Each conversation's events go out in `n` order, one request (or one batch) after the acknowledgement of the
 * previous, so the producer's order is the stream's order; conversations interleave across a bounded pool of
 * workers. A request that fails in a retryable way (503, timeout, connection lost) is retried with the same
 * ids, bounded in tries and time; one that never gets an answer leaves its events indeterminate (maybe stored).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import type { AckedEvent, IndeterminateEvent } from './checker.js';

export interface PlannedEvent {
  tenant: string;
  conversation: string;
  id: string;
  n: number;
  type: string;
  occurredAt: string;
  attributes: Record<string, unknown>;
}

export interface PlanOptions {
  tenant: string;
  conversations: number;
  perConversation: number;
  /** Conversation id prefix; default "c". */
  prefix?: string;
  /** occurredAt of event n; default 2026-01-01T00:00:00Z + n seconds. */
  occurredAt?: (conversation: number, n: number) => string;
  /** Extra attributes of event n. */
  attributes?: (conversation: number, n: number) => Record<string, unknown>;
}

/** Conversations × events, ids `<conversation>-e<n>`, `attributes.n = n`. */
export function plan(o: PlanOptions): PlannedEvent[][] {
  const out: PlannedEvent[][] = [];
  for (let c = 0; c < o.conversations; c++) {
    const conversation = `${o.prefix ?? 'c'}${c}`;
    const events: PlannedEvent[] = [];
    for (let n = 0; n < o.perConversation; n++) {
      events.push({
        tenant: o.tenant,
        conversation,
        id: `${conversation}-e${n}`,
        n,
        type: 'message.received',
        occurredAt: o.occurredAt?.(c, n) ?? new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
        attributes: { n, ...(o.attributes?.(c, n) ?? {}) },
      });
    }
    out.push(events);
  }
  return out;
}

/**
 * One more event per conversation after `load` (n = its length): sent last, its delivery proves every earlier
 * send of that conversation has been decided (sends of a conversation are in order), so a late duplicate
 * cannot slip in after the check.
 */
export function sentinels(load: PlannedEvent[][]): PlannedEvent[][] {
  return load.map((events) => {
    const last = events[events.length - 1]!;
    const n = events.length;
    return [
      {
        ...last,
        id: `${last.conversation}-e${n}`,
        n,
        occurredAt: new Date(Date.parse(last.occurredAt) + 1000).toISOString(),
        attributes: { n },
      },
    ];
  });
}

export class Recorder {
  readonly acked: AckedEvent[] = [];
  readonly indeterminate: IndeterminateEvent[] = [];
  /** Requests answered with an error that is not retried (4xx): the scenario decides whether that is expected. */
  readonly rejected: Array<{ ids: string[]; status: number; body: string }> = [];
  requests = 0;
  retries = 0;

  ackedSending(): number {
    return new Set(this.acked.map((e) => `${e.tenant}.${e.conversation}|${e.id}`)).size;
  }
}

export interface DriveOptions {
  /** Conversations in flight at once; default 16. */
  concurrency?: number;
  /** Events per request (HTTP batch) or published before awaiting acks (NATS); default 1. */
  batch?: number;
  /** Tries per request before its events are left indeterminate; default 30. */
  maxTries?: number;
  /** Give up retrying past this many ms from the drive's start; default 120 s. */
  budgetMs?: number;
  /** Called after each acknowledged request (scenarios inject faults at a point of progress). */
  onProgress?: (ackedSoFar: number) => void;
}

type Send = (
  events: PlannedEvent[],
) => Promise<
  | { ok: true; results: Array<{ id: string; duplicate: boolean }> }
  | { ok: false; retryable: boolean; status: number; body: string; retryAfterMs?: number }
>;

async function drive(
  path: 'http' | 'nats',
  conversations: PlannedEvent[][],
  send: Send,
  rec: Recorder,
  o: DriveOptions,
): Promise<void> {
  const batch = o.batch ?? 1;
  const maxTries = o.maxTries ?? 30;
  const end = Date.now() + (o.budgetMs ?? 120_000);
  const queue = conversations.map((events) => ({ events, next: 0 }));
  const worker = async () => {
    for (;;) {
      const item = queue.shift();
      if (!item) return;
      const chunk = item.events.slice(item.next, item.next + batch);
      item.next += chunk.length;
      let done = false;
      for (let attempt = 1; attempt <= maxTries && !done; attempt++) {
        rec.requests++;
        if (attempt > 1) rec.retries++;
        const answer = await send(chunk);
        if (answer.ok) {
          const now = Date.now();
          for (const r of answer.results) {
            const e = chunk.find((x) => x.id === r.id) ?? chunk[0]!;
            rec.acked.push({
              tenant: e.tenant,
              conversation: e.conversation,
              id: e.id,
              n: e.n,
              type: e.type,
              ackedAt: now,
              path,
              duplicate: r.duplicate,
            });
          }
          done = true;
          o.onProgress?.(rec.acked.length);
        } else if (!answer.retryable) {
          rec.rejected.push({ ids: chunk.map((e) => e.id), status: answer.status, body: answer.body });
          done = true;
        } else if (Date.now() > end) {
          break;
        } else {
          await sleep(Math.min(answer.retryAfterMs ?? 100 * attempt, 2000));
        }
      }
      if (!done) {
        for (const e of chunk)
          rec.indeterminate.push({ tenant: e.tenant, conversation: e.conversation, id: e.id, n: e.n });
        // The rest of this conversation is not sent: its order after a gap would mean nothing.
        continue;
      }
      if (item.next < item.events.length) queue.push(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 16, queue.length) }, worker));
}

export function httpBody(events: PlannedEvent[]): string {
  const wire = events.map(({ id, type, conversation, occurredAt, attributes }) => ({
    id,
    type,
    conversation,
    occurredAt,
    attributes,
  }));
  return JSON.stringify(wire.length === 1 ? wire[0] : { events: wire });
}

/** POSTs to `apiUrl()` (a function: the process serving it may change across restarts). */
export async function driveHttp(
  apiUrl: () => string,
  token: string,
  conversations: PlannedEvent[][],
  rec: Recorder,
  o: DriveOptions & { timeoutMs?: number } = {},
): Promise<void> {
  const send: Send = async (events) => {
    try {
      const res = await fetch(`${apiUrl()}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: httpBody(events),
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      const body = await res.text();
      if (res.status === 202) {
        const parsed = JSON.parse(body) as { results: Array<{ id: string; duplicate: boolean }> };
        return { ok: true, results: parsed.results };
      }
      const retryAfter = Number(res.headers.get('retry-after'));
      return {
        ok: false,
        retryable: res.status >= 500 || res.status === 429,
        status: res.status,
        body,
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      };
    } catch (err) {
      return { ok: false, retryable: true, status: 0, body: String(err) };
    }
  };
  await drive('http', conversations, send, rec, o);
}

export function natsEnvelope(e: PlannedEvent): Record<string, unknown> {
  return {
    schema: 1,
    id: e.id,
    type: e.type,
    tenant: e.tenant,
    conversation: e.conversation,
    occurredAt: e.occurredAt,
    attributes: e.attributes,
  };
}

/** Publishes JSON envelopes to ingest.<tenant>.<conversation>.<type>; `msgId` chooses the Nats-Msg-Id header. */
export async function driveNats(
  nc: NatsConnection,
  conversations: PlannedEvent[][],
  rec: Recorder,
  o: DriveOptions & { msgId?: 'none' | 'scoped'; timeoutMs?: number } = {},
): Promise<void> {
  const js = jetstream(nc, { timeout: o.timeoutMs ?? 5000 });
  const send: Send = async (events) => {
    try {
      const acks = await Promise.all(
        events.map((e) => {
          const h = natsHeaders();
          h.set('Content-Type', 'application/json');
          return js.publish(
            `ingest.${e.tenant}.${e.conversation}.${e.type}`,
            JSON.stringify(natsEnvelope(e)),
            { headers: h, ...(o.msgId === 'scoped' ? { msgID: `${e.tenant}:${e.id}` } : {}) },
          );
        }),
      );
      return { ok: true, results: acks.map((a, i) => ({ id: events[i]!.id, duplicate: a.duplicate })) };
    } catch (err) {
      return { ok: false, retryable: true, status: 0, body: String(err) };
    }
  };
  await drive('nats', conversations, send, rec, o);
}
