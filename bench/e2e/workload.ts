/**
 * The e2e bench's workload and its bookkeeping: `conversations x events` message.received events, event i
 * going to conversation i % conversations as its (i / conversations)-th message, so every round touches every
 * conversation. The first `optOut` conversations open with "STOP" (the fan opts out) and keep writing: no
 * send may follow. Per event the driver records when ingest acknowledged it; the analysis matches that with
 * what the simulated platform received (the webhook body's `event.id`).
 */

export interface Workload {
  /** Prefix of every event and conversation ID, unique per run (an external NATS_URL may hold older runs). */
  runId: string;
  conversations: number;
  eventsPerConversation: number;
  optOut: number;
  total: number;
}

const TEXTS = [
  'hello there',
  'loved the new video!',
  'when is the next live stream?',
  'haha that was great',
  'can you send me the link again please',
];

export const STOP_TEXT = 'STOP';

export function workload(conversations: number, eventsPerConversation: number, optOut: number): Workload {
  return {
    runId: `e${Date.now().toString(36)}`,
    conversations,
    eventsPerConversation,
    optOut: Math.min(optOut, conversations),
    total: conversations * eventsPerConversation,
  };
}

export const conversationOf = (w: Workload, i: number) => i % w.conversations;
export const roundOf = (w: Workload, i: number) => Math.floor(i / w.conversations);
/** Conversations whose fan sent STOP as their first message: every send to them is unsafe. */
export const isOptedOut = (w: Workload, i: number) => conversationOf(w, i) < w.optOut;
export const eventId = (w: Workload, i: number) => `${w.runId}-${i}`;

/** The event index of an ID from this run, or -1. */
export function eventIndex(w: Workload, id: string): number {
  if (!id.startsWith(`${w.runId}-`)) return -1;
  const i = Number(id.slice(w.runId.length + 1));
  return Number.isInteger(i) && i >= 0 && i < w.total ? i : -1;
}

export interface IngestEvent {
  id: string;
  type: string;
  conversation: string;
  occurredAt: string;
  attributes: Record<string, unknown>;
}

export function ingestEvent(w: Workload, i: number, occurredAt: string): IngestEvent {
  const c = conversationOf(w, i);
  const n = roundOf(w, i);
  return {
    id: eventId(w, i),
    type: 'message.received',
    conversation: `${w.runId}-c${c}`,
    occurredAt,
    attributes: { text: c < w.optOut && n === 0 ? STOP_TEXT : TEXTS[(c + n) % TEXTS.length]!, n },
  };
}

/** Warm-up events (JIT, connections, consumers): their own conversations, never counted. */
export function warmupEvent(w: Workload, k: number, conversations: number, occurredAt: string): IngestEvent {
  return {
    id: `${w.runId}w-${k}`,
    type: 'message.received',
    conversation: `${w.runId}-w${k % conversations}`,
    occurredAt,
    attributes: { text: TEXTS[k % TEXTS.length]!, n: Math.floor(k / conversations) },
  };
}

/** Per event: when ingest acknowledged it (driver clock, ms since the epoch; NaN = not acknowledged). */
export class Ledger {
  /** 1 once the event was sent to ingest (at least one request carried it). */
  readonly posted: Uint8Array;
  readonly ackAt: Float64Array;
  /** Events that ingest reported as duplicates (a retried request whose first try was stored). */
  ingestDuplicates = 0;
  failedRequests = 0;
  /** Running totals of posted and acknowledged events (the progress line reads them every second). */
  postedCount = 0;
  ackedCount = 0;

  constructor(readonly w: Workload) {
    this.posted = new Uint8Array(w.total);
    this.ackAt = new Float64Array(w.total).fill(Number.NaN);
  }

  markPosted(i: number): void {
    if (!this.posted[i]) this.postedCount++;
    this.posted[i] = 1;
  }

  acked(i: number, at: number): void {
    if (Number.isNaN(this.ackAt[i]!)) this.ackedCount++;
    this.ackAt[i] = at;
  }
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round1 = (n: number) => Math.round(n * 10) / 10;
export const round2 = (n: number) => Math.round(n * 100) / 100;
