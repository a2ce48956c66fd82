/**
 * The workload of a scenario as a pure function of an index: event i goes to conversation i % C as its
 * round n = i / C (every round touches every conversation, as in the e2e bench). Each conversation has
 * one class, from a hash of its number and the mix's shares:
 *
 *  - opt-out: round 0 is "STOP", then plain messages; risky: round 0 is a crisis or abuse message, then
 *    plain messages. Every send to either, of any kind, is unsafe (nobody resolves the escalation).
 *  - buyer: round n is a purchase.completed when n % purchaseEvery == 1 (the thank-you rule, the journey's
 *    welcome); the next round's message is the reply the journey waits for.
 *  - quiet: plain messages for quietAfterRounds rounds, then no events (the inactivity detector fires).
 *  - chat: plain messages.
 *
 * Direct sends are checked per event, exactly: every message.received of a safe conversation gets one echo
 * (rule `echo`), every purchase one thank-you (rule `thanks`), keyed by the triggering event's id in the
 * webhook body. Journey and detector sends are counted by kind, checked for duplicates (the platform
 * dedupes by webhook-id and counts repeats) and for safety (their conversation).
 */
import type { IngestEvent } from '../e2e/workload.js';
import type { Scenario } from '../scenario-schema.js';

export type ConversationClass = 'opt-out' | 'risky' | 'buyer' | 'quiet' | 'chat';

export const BENIGN_TEXTS = [
  'hello there',
  'loved the new video!',
  'when is the next live stream?',
  'haha that was great',
  'can you send me the link again please',
];

export const STOP_TEXT = 'STOP';
/** From the safety corpus (test/fixtures/safety): what the gate must escalate. */
export const RISKY_TEXTS = [
  "i'm thinking about taking my life",
  'you worthless piece of trash',
  "i can't see any reason to stay alive",
  "you better pray i don't find you",
];

/** Rules the direct sends come from, as the webhook body's `rule` names them. */
export const DIRECT_RULES = ['echo', 'thanks'] as const;

export interface Plan {
  runId: string;
  conversations: number;
  /** Index space: conversations x eventsPerConversation (some indexes carry no event: quiet ones). */
  total: number;
  classOf(c: number): ConversationClass;
  /** The event at index i, or undefined when the index carries none. */
  event(i: number, occurredAt: string): IngestEvent | undefined;
  /** Whether event i exists and is expected to produce exactly one direct send. */
  expectsSend(i: number): boolean;
  /** Conversations every send to which is unsafe. */
  forbidden(c: number): boolean;
  conversationId(c: number): string;
  /** Conversation number of an id of this run, or -1. */
  conversationIndex(id: string): number;
  eventIndex(id: string): number;
  counts(): Record<ConversationClass, number>;
}

/** A fixed, well-spread hash of a conversation number to [0, 1). */
function unit(c: number): number {
  let x = (c + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
}

export function plan(s: Scenario, runId: string): Plan {
  const C = s.conversations;
  const m = s.mix;
  const classes = new Uint8Array(C);
  const NAMES: ConversationClass[] = ['chat', 'opt-out', 'risky', 'buyer', 'quiet'];
  for (let c = 0; c < C; c++) {
    const u = unit(c);
    const edges = [
      m.optOut,
      m.optOut + m.risky,
      m.optOut + m.risky + m.buyers,
      m.optOut + m.risky + m.buyers + m.quiet,
    ];
    const k = edges.findIndex((e) => u < e);
    classes[c] = k < 0 ? 0 : k + 1;
  }
  const classOf = (c: number) => NAMES[classes[c]!]!;
  const total = C * s.eventsPerConversation;
  const prefix = `${runId}-`;
  const kindOf = (i: number): 'stop' | 'risky' | 'purchase' | 'message' | undefined => {
    if (i < 0 || i >= total) return undefined;
    const c = i % C;
    const n = Math.floor(i / C);
    switch (classes[c]) {
      case 1:
        return n === 0 ? 'stop' : 'message';
      case 2:
        return n === 0 ? 'risky' : 'message';
      case 3:
        return n % m.purchaseEvery === 1 ? 'purchase' : 'message';
      case 4:
        return n < m.quietAfterRounds ? 'message' : undefined;
      default:
        return 'message';
    }
  };
  return {
    runId,
    conversations: C,
    total,
    classOf,
    conversationId: (c) => `${runId}-c${c}`,
    conversationIndex(id) {
      if (!id.startsWith(`${runId}-c`)) return -1;
      const c = Number(id.slice(runId.length + 2));
      return Number.isInteger(c) && c >= 0 && c < C ? c : -1;
    },
    eventIndex(id) {
      if (!id.startsWith(prefix)) return -1;
      const i = Number(id.slice(prefix.length));
      return Number.isInteger(i) && i >= 0 && i < total ? i : -1;
    },
    forbidden: (c) => classes[c] === 1 || classes[c] === 2,
    expectsSend(i) {
      const k = kindOf(i);
      return (k === 'message' || k === 'purchase') && !(classes[i % C] === 1 || classes[i % C] === 2);
    },
    event(i, occurredAt) {
      const k = kindOf(i);
      if (!k) return undefined;
      const c = i % C;
      const n = Math.floor(i / C);
      const base = { id: `${prefix}${i}`, conversation: `${runId}-c${c}`, occurredAt };
      if (k === 'purchase')
        return { ...base, type: 'purchase.completed', attributes: { amount: 5 + ((c + n) % 40), n } };
      const text =
        k === 'stop'
          ? STOP_TEXT
          : k === 'risky'
            ? RISKY_TEXTS[c % RISKY_TEXTS.length]!
            : BENIGN_TEXTS[(c + n) % BENIGN_TEXTS.length]!;
      return { ...base, type: 'message.received', attributes: { text, n } };
    },
    counts() {
      const out: Record<ConversationClass, number> = { chat: 0, 'opt-out': 0, risky: 0, buyer: 0, quiet: 0 };
      for (let c = 0; c < C; c++) out[NAMES[classes[c]!]!]++;
      return out;
    },
  };
}

/** Warm-up events: their own conversations, plain messages, never counted. */
export function warmupEvent(runId: string, k: number, occurredAt: string): IngestEvent {
  return {
    id: `${runId}w-${k}`,
    type: 'message.received',
    conversation: `${runId}-w${k % 500}`,
    occurredAt,
    attributes: { text: BENIGN_TEXTS[k % BENIGN_TEXTS.length]!, n: Math.floor(k / 500) },
  };
}
