/**
 * The fault harness's checker: a pure function over a recorded history (what producers got acknowledged,
 * what an independent receiver accepted, what the state bucket says at the end), in the manner of Jepsen's
 * checkers. It knows nothing of NATS, HTTP or time; the harness records, the checker judges.
 *
 * What it asserts, per conversation (tenant + conversation):
 * - nothing lost: every acknowledged event that should cause a send was delivered (accepted by the receiver)
 *   at least once, unless its conversation is exempt (opted out, escalated);
 * - nothing duplicated: one source event is delivered under one action ID. The same webhook-id accepted again
 *   is a *redelivery* (a Standard-Webhooks receiver dedupes it; expected after a crash between send and
 *   record), reported apart and a violation only where the scenario says it must not happen;
 * - order: the first deliveries of a conversation's actions arrive in the producer's order (`n`);
 * - every delivery carries a valid signature and belongs to an event some producer sent (no phantoms);
 * - the state counters equal the acknowledged events (no event lost or applied twice in the fold). (The state's
 *   digest cannot be checked from outside: it also covers the engine's own outcome events.)
 *
 * A request the receiver refused on purpose (fault mode: 503, 429, hang, reset) is an attempt, not a
 * delivery: only `accepted` requests count.
 */

/** One event whose write a producer saw acknowledged (HTTP 202 result or a JetStream PubAck). */
export interface AckedEvent {
  tenant: string;
  conversation: string;
  /** The event id (the idempotency key). */
  id: string;
  /** Per-conversation sequence number carried in `attributes.n`: the producer's order. */
  n: number;
  /** Event type; only `sendingTypes` are expected to cause a send. Default message.received. */
  type?: string;
  /** Wall-clock ms of the acknowledgement. */
  ackedAt: number;
  path: 'http' | 'nats';
  /** The acknowledgement said duplicate (the stream already had this id). */
  duplicate?: boolean;
}

/** An event a producer sent without seeing its outcome (timeout, 503, connection lost): it may or may not exist. */
export interface IndeterminateEvent {
  tenant: string;
  conversation: string;
  id: string;
  n: number;
}

/** One request the receiver got. */
export interface Delivery {
  webhookId: string;
  tenant: string;
  conversation: string;
  /** `event.id` of the body: the source event. */
  eventId: string;
  /** `event.attributes.n` of the body. */
  n: number;
  /** Wall-clock ms the request arrived. */
  receivedAt: number;
  /** Arrival index at the receiver (ties in receivedAt are ordered by it). */
  index: number;
  signatureValid: boolean;
  /** The receiver processed it (2xx); false when a fault mode refused it. */
  accepted: boolean;
}

/** Final state of one conversation as read from the parley-state bucket. */
export interface ConversationCounters {
  tenant: string;
  conversation: string;
  /** Applied events by type (state.counts). */
  counts: Record<string, number>;
}

export interface History {
  acked: AckedEvent[];
  indeterminate?: IndeterminateEvent[];
  deliveries: Delivery[];
  /** Conversations (`tenant.conversation`) whose sends may be withheld (opted out, escalated). */
  exempt?: string[];
  /** Final state; omit to skip the counter check. */
  states?: ConversationCounters[];
}

export interface CheckOptions {
  /** Event types that cause exactly one send (the echo rule); default ['message.received']. */
  sendingTypes?: string[];
  /** Types whose state counter must equal the acknowledged distinct events; default sendingTypes. */
  countedTypes?: string[];
  /** Redeliveries of an accepted webhook-id are violations (scenarios without a crash); default false. */
  redeliveryIsViolation?: boolean;
}

export type ViolationKind =
  | 'lost'
  | 'duplicate'
  | 'redelivery'
  | 'order'
  | 'bad-signature'
  | 'phantom'
  | 'state-mismatch';

export interface Violation {
  kind: ViolationKind;
  tenant: string;
  conversation: string;
  message: string;
  /** Event ids (or webhook-ids for redeliveries) involved. */
  ids: string[];
}

export interface CheckSummary {
  /** Distinct acknowledged events. */
  events: number;
  /** Receiver requests (every attempt). */
  requests: number;
  /** Accepted deliveries (redeliveries included). */
  deliveries: number;
  lost: number;
  duplicates: number;
  redeliveries: number;
  /** Conversations whose first deliveries are out of n order. */
  orderViolations: number;
  badSignatures: number;
  phantoms: number;
  stateMismatches: number;
}

export interface CheckReport {
  ok: boolean;
  summary: CheckSummary;
  violations: Violation[];
  /** Redeliveries that are not violations (for the report). */
  notes: Violation[];
}

const key = (tenant: string, conversation: string) => `${tenant}.${conversation}`;
const splitKey = (k: string) => {
  const dot = k.indexOf('.');
  return { tenant: k.slice(0, dot), conversation: k.slice(dot + 1) };
};

function group<T>(items: Iterable<T>, by: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = by(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** The first out-of-order pair in a sequence of n, or undefined when strictly increasing. */
export function firstInversion(ns: number[]): { at: number; before: number; after: number } | undefined {
  for (let i = 1; i < ns.length; i++) {
    if (ns[i]! <= ns[i - 1]!) return { at: i, before: ns[i - 1]!, after: ns[i]! };
  }
  return undefined;
}

function preview(ns: number[], around: number, width = 8): string {
  const from = Math.max(0, around - width);
  const to = Math.min(ns.length, around + width);
  return `${from > 0 ? '…, ' : ''}${ns.slice(from, to).join(', ')}${to < ns.length ? ', …' : ''}`;
}

export function check(history: History, options: CheckOptions = {}): CheckReport {
  const sendingTypes = new Set(options.sendingTypes ?? ['message.received']);
  const countedTypes = options.countedTypes ?? [...sendingTypes];
  const exempt = new Set(history.exempt ?? []);
  const violations: Violation[] = [];
  const notes: Violation[] = [];

  // Distinct acknowledged events per conversation; the first acknowledgement that was not a duplicate fixes
  // which payload the stream holds (a flood with one id and different payloads is stored once).
  const events = new Map<string, Map<string, AckedEvent>>();
  for (const e of [...history.acked].sort((a, b) => a.ackedAt - b.ackedAt)) {
    const k = key(e.tenant, e.conversation);
    const byId = events.get(k) ?? new Map<string, AckedEvent>();
    events.set(k, byId);
    const seen = byId.get(e.id);
    if (!seen || (seen.duplicate && !e.duplicate)) byId.set(e.id, e);
  }
  const indeterminate = new Set(
    (history.indeterminate ?? []).map((e) => `${key(e.tenant, e.conversation)}|${e.id}`),
  );
  const accepted = history.deliveries.filter((d) => d.accepted);
  const byConversation = group(accepted, (d) => key(d.tenant, d.conversation));

  for (const d of history.deliveries) {
    if (!d.signatureValid) {
      violations.push({
        kind: 'bad-signature',
        tenant: d.tenant,
        conversation: d.conversation,
        message: `webhook-id ${d.webhookId} (event ${d.eventId}) arrived with a signature that does not verify`,
        ids: [d.eventId],
      });
    }
  }

  const conversations = new Set([...events.keys(), ...byConversation.keys()]);
  for (const conv of [...conversations].sort()) {
    const { tenant, conversation } = splitKey(conv);
    const acked = events.get(conv) ?? new Map<string, AckedEvent>();
    const delivered = (byConversation.get(conv) ?? []).sort(
      (a, b) => a.receivedAt - b.receivedAt || a.index - b.index,
    );

    // Phantoms: a delivery for an event no producer sent (or might have sent).
    for (const d of delivered) {
      if (!acked.has(d.eventId) && !indeterminate.has(`${conv}|${d.eventId}`)) {
        violations.push({
          kind: 'phantom',
          tenant,
          conversation,
          message: `delivery ${d.webhookId} names event ${d.eventId}, which no producer sent`,
          ids: [d.eventId],
        });
      }
    }

    // Redeliveries (same webhook-id accepted again) and duplicates (one source event, several action IDs).
    const byWebhookId = group(delivered, (d) => d.webhookId);
    for (const [webhookId, list] of byWebhookId) {
      if (list.length > 1) {
        const v: Violation = {
          kind: 'redelivery',
          tenant,
          conversation,
          message: `webhook-id ${webhookId} (event ${list[0]!.eventId}) accepted ${list.length} times`,
          ids: [webhookId],
        };
        (options.redeliveryIsViolation ? violations : notes).push(v);
      }
    }
    const firsts = [...byWebhookId.values()].map((list) => list[0]!);
    firsts.sort((a, b) => a.receivedAt - b.receivedAt || a.index - b.index);
    for (const [eventId, list] of group(firsts, (d) => d.eventId)) {
      if (list.length > 1) {
        violations.push({
          kind: 'duplicate',
          tenant,
          conversation,
          message: `event ${eventId} delivered under ${list.length} action IDs: ${list.map((d) => d.webhookId).join(', ')}`,
          ids: [eventId],
        });
      }
    }

    // Order: the first delivery of each source event, in arrival order, must follow n.
    const firstPerEvent = [...group(firsts, (d) => d.eventId).values()].map((list) => list[0]!);
    const ns = firstPerEvent.map((d) => d.n);
    const inversion = firstInversion(ns);
    if (inversion) {
      const late = firstPerEvent[inversion.at]!;
      violations.push({
        kind: 'order',
        tenant,
        conversation,
        message: `n = ${preview(ns, inversion.at)}: n=${inversion.after} (event ${late.eventId}) arrived after n=${inversion.before}`,
        ids: [firstPerEvent[inversion.at - 1]!.eventId, late.eventId],
      });
    }

    // Lost: acknowledged, should cause a send, never accepted by the receiver.
    if (!exempt.has(conv)) {
      const deliveredIds = new Set(firsts.map((d) => d.eventId));
      const lost = [...acked.values()]
        .filter((e) => sendingTypes.has(e.type ?? 'message.received') && !deliveredIds.has(e.id))
        .sort((a, b) => a.n - b.n);
      if (lost.length > 0) {
        violations.push({
          kind: 'lost',
          tenant,
          conversation,
          message:
            `${lost.length} acknowledged event(s) never delivered: n = ${lost.map((e) => e.n).join(', ')}` +
            (lost.some((e) => e.duplicate)
              ? ` (acknowledged only as duplicates: n = ${lost
                  .filter((e) => e.duplicate)
                  .map((e) => e.n)
                  .join(', ')})`
              : ''),
          ids: lost.map((e) => e.id),
        });
      }
    }
  }

  // State counters: what the fold applied equals what producers got acknowledged.
  if (history.states) {
    const states = new Map(history.states.map((s) => [key(s.tenant, s.conversation), s]));
    for (const conv of [...new Set([...events.keys(), ...states.keys()])].sort()) {
      const { tenant, conversation } = splitKey(conv);
      const acked = [...(events.get(conv)?.values() ?? [])];
      const state = states.get(conv);
      for (const type of countedTypes) {
        const want = acked.filter((e) => (e.type ?? 'message.received') === type).length;
        const got = state?.counts[type] ?? 0;
        if (want !== got) {
          violations.push({
            kind: 'state-mismatch',
            tenant,
            conversation,
            message: state
              ? `counts[${type}] = ${got}, acknowledged ${want}`
              : `no state in KV, acknowledged ${want} ${type}`,
            ids: [],
          });
        }
      }
    }
  }

  const count = (kind: ViolationKind) => violations.filter((v) => v.kind === kind);
  const summary: CheckSummary = {
    events: [...events.values()].reduce((a, m) => a + m.size, 0),
    requests: history.deliveries.length,
    deliveries: accepted.length,
    lost: count('lost').reduce((a, v) => a + v.ids.length, 0),
    duplicates: count('duplicate').length,
    redeliveries: [...violations, ...notes].filter((v) => v.kind === 'redelivery').length,
    orderViolations: count('order').length,
    badSignatures: count('bad-signature').length,
    phantoms: count('phantom').length,
    stateMismatches: count('state-mismatch').length,
  };
  return { ok: violations.length === 0, summary, violations, notes };
}

/** A readable account of a report: the summary, then each violation (first `limit`). */
export function formatReport(report: CheckReport, limit = 20): string {
  const s = report.summary;
  const lines = [
    `${report.ok ? 'OK' : 'FAILED'}: ${s.events} events, ${s.deliveries} deliveries (${s.requests} requests); ` +
      `lost ${s.lost}, duplicates ${s.duplicates}, redeliveries ${s.redeliveries}, order ${s.orderViolations}, ` +
      `bad signatures ${s.badSignatures}, phantoms ${s.phantoms}, state ${s.stateMismatches}`,
  ];
  for (const v of report.violations.slice(0, limit)) {
    lines.push(`  ${v.kind} ${v.tenant}/${v.conversation}: ${v.message}`);
  }
  if (report.violations.length > limit) lines.push(`  … ${report.violations.length - limit} more`);
  return lines.join('\n');
}
