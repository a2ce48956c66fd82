/**
 * Operator actions on the safety layer, as plain functions over a small port (SafetyStore; the NATS
 * implementation is src/nats/safety-store.ts) so that the CLI and the HTTP API call the same code:
 * escalations list / show / resolve, consent get / set, pause / resume (kill switches) and the switch list.
 * Every request body is validated with zod; every change is recorded in AUDIT as an operator action.
 *
 * Changes that concern one conversation (a resolution, a consent change) are events published into EVENTS,
 * so they reach the conversation's actor in order with everything else; switches are KV writes, watched by
 * every process.
 */
import { z } from 'zod';
import { type EventEnvelope, SCHEMA_VERSION, TokenSchema } from '../envelope/envelope.js';
import { AppError, ValidationError } from '../errors/app-error.js';
import { CONSENT_EVENT_TYPE, type ConsentRecord } from '../safety/consent.js';
import {
  formatScope,
  type HoldRecord,
  holdKey,
  parseScope,
  type SwitchRecord,
  scopeKey,
} from '../safety/control.js';
import {
  ESCALATION_RESOLVED_EVENT,
  parseEscalationId,
  type Resolution,
  ResolutionSchema,
} from '../safety/escalation.js';

/** An ESCALATIONS record as published by the gate. */
export interface EscalationMessage {
  seq: number;
  escalationId: string;
  tenant: string;
  conversation: string;
  reason: string;
  priority: string;
  evidence: Record<string, unknown>;
  suggestedNext?: string;
  at: string;
}

export type EscalationStatus = 'open' | 'closed' | 'resolved';

export interface EscalationView extends EscalationMessage {
  status: EscalationStatus;
  /** Later records about the same escalation (a raised priority). */
  updates: number;
}

export interface SafetyStore {
  /** ESCALATIONS records, oldest first, optionally for one tenant or conversation. */
  escalations(filter: {
    tenant?: string;
    conversation?: string;
    maxScan: number;
  }): Promise<EscalationMessage[]>;
  control: {
    get(key: string): Promise<Record<string, unknown> | undefined>;
    put(key: string, value: Record<string, unknown>): Promise<void>;
    delete(key: string): Promise<void>;
    list(): Promise<Array<{ key: string; value: Record<string, unknown> }>>;
  };
  consent: { get(key: string): Promise<Record<string, unknown> | undefined> };
  /** Publishes with the event's id as the dedupe key; a duplicate answers the stored message's sequence. */
  publishEvent(event: EventEnvelope): Promise<{ seq: number; duplicate: boolean }>;
  /** The EVENTS message at a sequence (the resolution that won), or undefined when it is gone. */
  eventAt(seq: number): Promise<EventEnvelope | undefined>;
  /** An operator record in AUDIT; with `id`, written once whatever the retries (its Nats-Msg-Id). */
  audit(
    kind: string,
    tenant: string,
    conversation: string,
    record: Record<string, unknown>,
    id?: string,
  ): Promise<void>;
  now(): number;
}

export const ListEscalationsSchema = z
  .object({
    tenant: TokenSchema.optional(),
    status: z.enum(['open', 'closed', 'resolved', 'all']).default('open'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

function statusOf(hold: HoldRecord | undefined, id: string): EscalationStatus {
  if (hold?.escalationId !== id) return 'resolved';
  if (hold.status === 'open') return 'open';
  if (hold.status === 'closed') return 'closed';
  return 'resolved';
}

/** Latest record per escalation ID, with its status from the conversation's hold record. */
async function views(store: SafetyStore, records: EscalationMessage[]): Promise<EscalationView[]> {
  const byId = new Map<string, EscalationView>();
  for (const r of records) {
    const prev = byId.get(r.escalationId);
    byId.set(r.escalationId, {
      ...(prev && r.evidence.update ? { ...prev, priority: r.priority, reason: r.reason } : r),
      status: 'resolved',
      updates: prev ? prev.updates + 1 : 0,
    });
  }
  const holds = new Map<string, HoldRecord | undefined>();
  for (const v of byId.values()) {
    const key = holdKey(v.tenant, v.conversation);
    if (!holds.has(key)) holds.set(key, (await store.control.get(key)) as HoldRecord | undefined);
    v.status = statusOf(holds.get(key), v.escalationId);
  }
  return [...byId.values()];
}

const PRIORITY_ORDER: Record<string, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

/**
 * Escalations matching the query, most urgent first, at most `limit`. `visible` (an operator's tenant scope)
 * filters before the limit, so a scoped operator gets up to `limit` of their own, not what is left of them.
 */
export async function listEscalations(
  store: SafetyStore,
  query: unknown,
  visible: (v: EscalationView) => boolean = () => true,
): Promise<EscalationView[]> {
  const q = ListEscalationsSchema.parse(query ?? {});
  const all = await views(store, await store.escalations({ tenant: q.tenant, maxScan: 10_000 }));
  return all
    .filter((v) => (q.status === 'all' || v.status === q.status) && visible(v))
    .sort((a, b) => (PRIORITY_ORDER[a.priority] ?? 9) - (PRIORITY_ORDER[b.priority] ?? 9) || a.seq - b.seq)
    .slice(0, q.limit);
}

function idOrThrow(id: string) {
  const parsed = parseEscalationId(id);
  if (!parsed)
    throw new ValidationError('invalid escalation id', [
      { path: 'id', message: `"${id}" is not <tenant>.<conversation>.<seq>` },
    ]);
  return parsed;
}

export async function showEscalation(store: SafetyStore, id: string): Promise<EscalationView | undefined> {
  const { tenant, conversation } = idOrThrow(id);
  const records = await store.escalations({ tenant, conversation, maxScan: 10_000 });
  return (
    await views(
      store,
      records.filter((r) => r.escalationId === id),
    )
  )[0];
}

export class EscalationNotFoundError extends ValidationError {}

/**
 * 409: the escalation was resolved before this request, or another resolution of it won at the same moment
 * (the API, the CLI and the inbox alike). `resolvedBy` names the winner when known.
 */
export class EscalationResolvedError extends AppError {
  readonly statusCode = 409;
  readonly resolvedBy: string | undefined;
  constructor(message: string, resolvedBy?: string) {
    super(message, { code: 'ALREADY_RESOLVED' });
    this.resolvedBy = resolvedBy;
  }
}

export interface ResolveResult {
  escalationId: string;
  outcome: Resolution['outcome'];
  /** EVENTS sequence of the resolution event; the actor applies it in order. */
  seq: number;
  /** This very request was already accepted (a retry): nothing new was published or audited. */
  duplicate: boolean;
}

/** Two resolutions are the same request when they say the same thing as the same operator. */
function sameResolution(a: Record<string, unknown>, b: Resolution): boolean {
  const reply = (a.reply ?? undefined) as { text?: unknown; channel?: unknown } | undefined;
  return (
    a.outcome === b.outcome &&
    (a.by ?? undefined) === b.by &&
    reply?.text === b.reply?.text &&
    reply?.channel === b.reply?.channel &&
    (reply as { template?: unknown } | undefined)?.template === b.reply?.template
  );
}

/**
 * Resolves an open (or closed, to reopen) escalation: publishes `admin.escalation.resolved` into EVENTS.
 * Exclusive: the event's ID is the escalation and its status, whatever the outcome, so of two operators
 * resolving at once the stream stores the first (a compare-and-set on the dedupe window) and the second is
 * refused with EscalationResolvedError naming the winner. The same request sent again (same operator, outcome
 * and reply) is a retry: answered `duplicate`, not published or audited twice. Once the actor has applied a
 * resolution the escalation reads `resolved` and any later request is refused the same way. With
 * `expectStatus` (the status the operator acted on), any other current status is refused the same way.
 */
export async function resolveEscalation(
  store: SafetyStore,
  id: string,
  body: unknown,
  o: { expectStatus?: EscalationStatus | undefined } = {},
): Promise<ResolveResult> {
  const { tenant, conversation } = idOrThrow(id);
  const res = ResolutionSchema.parse({ ...(body as object), escalationId: id });
  const view = await showEscalation(store, id);
  if (!view) throw new EscalationNotFoundError(`no escalation ${id}`, [{ path: 'id', message: 'not found' }]);
  if (view.status === 'resolved') throw new EscalationResolvedError(`escalation ${id} is already resolved`);
  // What the operator saw: an escalation another operator closed meanwhile is not silently reopened by a
  // resume or reply meant for the open one (resolve.<id>.closed is another event id, so dedupe cannot tell).
  if (o.expectStatus && view.status !== o.expectStatus)
    throw new EscalationResolvedError(`escalation ${id} is ${view.status} now, not ${o.expectStatus}`);
  // Closing it again would publish a resolution the actor ignores, yet one that blocks reopening it.
  if (view.status === 'closed' && res.outcome === 'close')
    throw new EscalationResolvedError(`escalation ${id} is already closed; resume or reply to reopen it`);
  const now = store.now();
  const event: EventEnvelope = {
    schema: SCHEMA_VERSION,
    id: `resolve.${id}.${view.status}`,
    type: ESCALATION_RESOLVED_EVENT,
    tenant,
    conversation,
    occurredAt: new Date(now).toISOString(),
    attributes: res as unknown as Record<string, unknown>,
  };
  const published = await store.publishEvent(event);
  // Keyed by the resolution event: a retry whose first attempt was stored but not audited is audited now,
  // and never twice.
  const audit = () =>
    store.audit(
      'operator',
      tenant,
      conversation,
      {
        action: 'escalation.resolve',
        escalationId: id,
        outcome: res.outcome,
        ...(res.by ? { by: res.by } : {}),
        ...(res.note ? { note: res.note } : {}),
        ...(res.reply ? { replyChannel: res.reply.channel ?? 'default' } : {}),
        eventSeq: published.seq,
      },
      `operator.resolve.${id}.${published.seq}`,
    );
  if (published.duplicate) {
    // Unreadable (gone, or not an event): the refusal names no one rather than failing.
    const won = await store.eventAt(published.seq).catch(() => undefined);
    if (won?.id === event.id && sameResolution(won.attributes, res)) {
      await audit();
      return { escalationId: id, outcome: res.outcome, ...published };
    }
    const by = typeof won?.attributes.by === 'string' ? won.attributes.by : undefined;
    const outcome = typeof won?.attributes.outcome === 'string' ? ` (${won.attributes.outcome})` : '';
    throw new EscalationResolvedError(
      `escalation ${id} was resolved by ${by ?? 'another operator'}${outcome} at the same moment`,
      by,
    );
  }
  await audit();
  return { escalationId: id, outcome: res.outcome, ...published };
}

export const ConsentSetSchema = z
  .object({
    dnd: z.boolean().describe('true: do not disturb; false: allowed again (opt back in)'),
    channel: TokenSchema.optional().describe('Only this channel; default every channel'),
    by: z.string().max(200).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();

export interface ConsentView {
  tenant: string;
  conversation: string;
  dnd: boolean;
  channels: Record<string, boolean>;
  source: ConsentRecord['source'] | 'none';
  updatedAt?: string;
}

export async function getConsent(
  store: SafetyStore,
  tenant: string,
  conversation: string,
): Promise<ConsentView> {
  TokenSchema.parse(tenant);
  TokenSchema.parse(conversation);
  const r = await store.consent.get(`${tenant}.${conversation}`);
  if (!r) return { tenant, conversation, dnd: false, channels: {}, source: 'none' };
  return {
    tenant,
    conversation,
    dnd: r.dnd === true,
    channels: (r.channels as Record<string, boolean>) ?? {},
    source: r.source as ConsentRecord['source'],
    ...(typeof r.updatedAt === 'string' ? { updatedAt: r.updatedAt } : {}),
  };
}

/** Publishes `admin.consent.updated`; the conversation's actor applies it in order and writes parley-consent. */
export async function setConsent(
  store: SafetyStore,
  tenant: string,
  conversation: string,
  body: unknown,
): Promise<{ seq: number; duplicate: boolean }> {
  TokenSchema.parse(tenant);
  TokenSchema.parse(conversation);
  const req = ConsentSetSchema.parse(body);
  const now = store.now();
  const event: EventEnvelope = {
    schema: SCHEMA_VERSION,
    id: `consent.${tenant}.${conversation}.${now}`,
    type: CONSENT_EVENT_TYPE,
    tenant,
    conversation,
    occurredAt: new Date(now).toISOString(),
    attributes: { ...req },
  };
  const published = await store.publishEvent(event);
  await store.audit('operator', tenant, conversation, {
    action: 'consent.set',
    ...req,
    eventSeq: published.seq,
  });
  return published;
}

export const PauseSchema = z
  .object({
    scope: z
      .string()
      .describe('global, tenant:<t>, rule:[<t>/]<r>, channel:[<t>/]<c> or conversation:<t>/<c>'),
    mode: z.enum(['pause', 'kill']).default('pause'),
    reason: z.string().max(500).optional(),
    by: z.string().max(200).optional(),
  })
  .strict();

export const ResumeSchema = PauseSchema.pick({ scope: true, by: true }).strict();

function auditTarget(scopeText: string): { tenant: string; conversation: string } {
  const s = parseScope(scopeText);
  const tenant = 'tenant' in s && s.tenant ? s.tenant : '_all';
  return { tenant, conversation: s.kind === 'conversation' ? s.conversation : '_all' };
}

/**
 * Refuses a scope that names a tenant the deployment does not configure (a switch that matches nothing
 * would look like it worked). Without configured tenants there is nothing to check against.
 */
export function checkScopeTenant(scopeText: unknown, tenants: readonly string[]): void {
  if (tenants.length === 0 || typeof scopeText !== 'string') return;
  const scope = parseScope(scopeText);
  if ('tenant' in scope && scope.tenant !== undefined && !tenants.includes(scope.tenant))
    throw new ValidationError(`unknown tenant "${scope.tenant}" in scope "${scopeText}"`, [
      { path: 'scope', message: `configured tenants: ${tenants.join(', ')}` },
    ]);
}

/** Sets a kill switch or pause; every process sees it through its watch within milliseconds. */
export async function pause(store: SafetyStore, body: unknown): Promise<SwitchRecord & { key: string }> {
  const req = PauseSchema.parse(body);
  const scope = parseScope(req.scope);
  const record: SwitchRecord = {
    mode: req.mode,
    scope: formatScope(scope),
    at: new Date(store.now()).toISOString(),
    ...(req.reason ? { reason: req.reason } : {}),
    ...(req.by ? { by: req.by } : {}),
  };
  const key = scopeKey(scope);
  await store.control.put(key, record);
  const t = auditTarget(req.scope);
  await store.audit('operator', t.tenant, t.conversation, { action: req.mode, key, ...record });
  return { key, ...record };
}

export async function resume(
  store: SafetyStore,
  body: unknown,
): Promise<{ key: string; scope: string; was?: unknown }> {
  const req = ResumeSchema.parse(body);
  const scope = parseScope(req.scope);
  const key = scopeKey(scope);
  const was = await store.control.get(key);
  await store.control.delete(key);
  const t = auditTarget(req.scope);
  await store.audit('operator', t.tenant, t.conversation, {
    action: 'resume',
    key,
    scope: formatScope(scope),
    ...(req.by ? { by: req.by } : {}),
    had: was?.mode ?? 'none',
  });
  return { key, scope: formatScope(scope), ...(was ? { was } : {}) };
}

/** Kill switches and pauses in force (escalation holds are listed by listEscalations). */
export async function listSwitches(store: SafetyStore): Promise<Array<SwitchRecord & { key: string }>> {
  return (await store.control.list())
    .filter((e) => !e.key.startsWith('escalation.'))
    .map((e) => ({ key: e.key, ...(e.value as SwitchRecord) }));
}
