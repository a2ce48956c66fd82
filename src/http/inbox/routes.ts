/**
 * The operator inbox at /inbox: a page for working the escalation queue, served by the HTTP listener.
 *   GET  /inbox                sign-in form, or the app once signed in
 *   POST /inbox/sign-in        form field `token` (an operator token): a server-side session, cookie
 *                              `parley_inbox` (HttpOnly; SameSite=Strict; Path=/inbox; Secure over TLS)
 *   POST /inbox/sign-out       forgets the session
 *   GET  /inbox/assets/:file   the bundled script and style sheet (dist/inbox, built by npm run build)
 *   GET  /inbox/api/queue      open escalations (priority, then age), filters tenant, reason, status
 *   GET  /inbox/api/escalations/:id   the escalation and its conversation (evidence, trail, held, profile)
 *   POST /inbox/api/escalations/:id/resolve  { outcome: resume|close|reply, reply?: { text } } (reviewer)
 *   POST /inbox/api/escalations/:id/dnd      the fan on do-not-disturb (operator)
 *   GET  /inbox/api/events     server-sent events: `change` whenever the queue changed
 * Every POST needs the session's CSRF token (header x-csrf-token, or form field `csrf`) besides the
 * SameSite=Strict cookie. Roles are the operators' (src/http/operators.ts): reads need viewer, resolve
 * reviewer, DND operator; a 403 names the role. Two operators resolving one escalation at once: the first
 * wins, the second gets 409 naming the winner (safety-ops resolveEscalation, as on the API and the CLI).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../../errors/app-error.js';
import {
  getConsent,
  listEscalations,
  resolveEscalation,
  type SafetyStore,
  setConsent,
  showEscalation,
} from '../../ops/safety-ops.js';
import type { Predicate } from '../../rules/filter.js';
import { messageText } from '../../safety/message-text.js';
import { type CompiledAuth, operatorByDigest, resolveOperator, sha256 } from '../auth.js';
import { conversationView, nameTheResolver } from '../conversation-view.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { zodToIssues } from '../ingest-body.js';
import { inScope, type Operator, requireRole, visibleTenants } from '../operators.js';
import type { ConversationReader } from '../ports.js';
import { readAsset } from './assets.js';
import type { InboxChange, InboxFeed } from './feed.js';
import { appPage, signInPage } from './page.js';
import {
  type InboxSession,
  MemorySessionBackend,
  type SessionBackend,
  SessionStore,
  sameSecret,
} from './sessions.js';

export const SESSION_COOKIE = 'parley_inbox';
const PRE_COOKIE = 'parley_inbox_pre';

export interface InboxOptions {
  auth: CompiledAuth;
  store: SafetyStore;
  conversations: ConversationReader;
  tenants: readonly string[];
  /** Live updates; without it the page refreshes the queue when asked. */
  feed?: InboxFeed;
  /** The listener serves HTTPS: the cookie gets Secure. */
  secure: boolean;
  trailLimit: number;
  /** Show the full text of the message an escalation was raised on, besides the snippet; default false. */
  fullText?: boolean;
  /** Where an event keeps its message text (safety.textFields); default ['text']. */
  textFields?: readonly string[];
  /** Segment definitions of the current rules, to show which a fan is in. */
  segments?: () => ReadonlyMap<string, Predicate>;
  /** Shared session storage (the parley-inbox-sessions bucket); default this process's memory. */
  sessions?: SessionBackend;
  sessionIdleMs?: number;
  sessionAbsoluteMs?: number;
  now?: () => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    inboxSession: InboxSession | undefined;
  }
}

function cookies(req: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function cookie(name: string, value: string, o: { secure: boolean; maxAgeS: number }): string {
  return [
    `${name}=${value}`,
    'Path=/inbox',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${o.maxAgeS}`,
    ...(o.secure ? ['Secure'] : []),
  ].join('; ');
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw new ValidationError(`invalid ${what}`, zodToIssues(parsed.error));
  return parsed.data;
}

const QueueQuerySchema = z
  .object({
    tenant: z.string().max(64).optional(),
    reason: z.string().max(64).optional(),
    status: z.enum(['open', 'closed', 'resolved', 'all']).default('open'),
  })
  .strict();

const ResolveSchema = z
  .object({
    outcome: z.enum(['resume', 'close', 'reply']),
    reply: z
      .object({ text: z.string().trim().min(1).max(4000) })
      .strict()
      .optional(),
    note: z.string().max(2000).optional(),
    // The status the page showed (the page always sends it): anything else now is a 409.
    expectStatus: z.enum(['open', 'closed', 'resolved']).optional(),
  })
  .strict();

const IdSchema = z.object({ id: z.string().min(1).max(300) }).strict();

/**
 * The evidence the page shows: the classifier's snippet and labels; with `fullText`, also the whole text of
 * the message the escalation was raised on, read from EVENTS by the sequence the evidence records (and only
 * if the message there is that event). Never for the queue, only for one opened escalation.
 */
async function evidenceOf(
  store: SafetyStore,
  evidence: Record<string, unknown>,
  o: { fullText: boolean; textFields: readonly string[] },
): Promise<Record<string, unknown>> {
  const rest = withoutText(evidence);
  const ref = evidence.event as { id?: unknown; seq?: unknown } | undefined;
  if (!o.fullText || typeof ref?.seq !== 'number' || ref.seq < 1) return rest;
  let event: Awaited<ReturnType<SafetyStore['eventAt']>>;
  try {
    event = await store.eventAt(ref.seq);
  } catch {
    return { ...rest, textUnavailable: 'unreadable' }; // NATS slow or refusing: the rest of the view stands
  }
  const text = event?.id === ref.id && event ? messageText(event, o.textFields) : undefined;
  return text ? { ...rest, text } : { ...rest, textUnavailable: 'gone' };
}

function withoutText(evidence: Record<string, unknown>): Record<string, unknown> {
  const { text: _text, ...rest } = evidence;
  return rest;
}

export function registerInboxRoutes(app: FastifyInstance, o: InboxOptions): void {
  const sessions = new SessionStore(o.sessions ?? new MemorySessionBackend(), {
    operatorOf: (digest) => operatorByDigest(o.auth, digest),
    ...(o.sessionIdleMs ? { idleMs: o.sessionIdleMs } : {}),
    ...(o.sessionAbsoluteMs ? { absoluteMs: o.sessionAbsoluteMs } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  // The cookie lives as long as a session can; idle expiry is the server's (a cookie that expired after the
  // idle time would sign out an operator working without a pause, since extensions do not re-send it).
  const maxAgeS = Math.floor(sessions.absoluteMs / 1000);
  const fullText = o.fullText ?? false;
  const textFields = o.textFields ?? ['text'];

  void app.register(async (scope) => {
    // The sign-in and sign-out forms post urlencoded bodies (small); everything else is JSON.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 8192 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    scope.decorateRequest('inboxSession', undefined);
    scope.addHook('onRequest', async (req, reply) => {
      // The page's own refreshes after a live update (x-inbox-background) are not use: an unattended tab
      // still goes idle. Anything an operator does, and every POST, extends the session.
      const background = req.method === 'GET' && req.headers['x-inbox-background'] === '1';
      req.inboxSession = await sessions.get(cookies(req).get(SESSION_COOKIE), { extend: !background });
      reply.header('Cache-Control', 'no-store');
      reply.header('X-Content-Type-Options', 'nosniff');
      reply.header('X-Frame-Options', 'DENY');
      reply.header('Referrer-Policy', 'no-referrer');
      reply.header(
        'Content-Security-Policy',
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
    });
    const hide = { schema: { hide: true } };

    const signedIn = (req: FastifyRequest): InboxSession => {
      const s = req.inboxSession;
      if (!s) throw new UnauthorizedError('sign in to the inbox first', 'SIGNED_OUT');
      return s;
    };
    const checkCsrf = (req: FastifyRequest, s: InboxSession) => {
      const body = req.body as Record<string, unknown> | undefined;
      const presented = req.headers['x-csrf-token'] ?? (typeof body?.csrf === 'string' ? body.csrf : '');
      if (typeof presented !== 'string' || !sameSecret(presented, s.csrf))
        throw new ForbiddenError('missing or wrong CSRF token; reload the page', 'CSRF');
    };
    const canSee = (op: Operator, tenant: string) => {
      if (!inScope(op, tenant)) throw new NotFoundError(`no escalation for tenant "${tenant}" in your scope`);
    };

    scope.get('/inbox', hide, async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const s = req.inboxSession;
      if (s)
        return appPage({
          operator: s.operator,
          csrf: s.csrf,
          tenants: visibleTenants(s.operator, o.tenants),
        });
      const pre = cookies(req).get(PRE_COOKIE) ?? randomPre();
      reply.header('Set-Cookie', cookie(PRE_COOKIE, pre, { secure: o.secure, maxAgeS: 3600 }));
      return signInPage({ pre });
    });

    scope.post('/inbox/sign-in', hide, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      const pre = cookies(req).get(PRE_COOKIE);
      reply.type('text/html; charset=utf-8');
      // Login CSRF: the form's hidden value must match the cookie the sign-in page set.
      if (!pre || typeof body.pre !== 'string' || !sameSecret(body.pre, pre)) {
        const fresh = randomPre();
        reply.header('Set-Cookie', cookie(PRE_COOKIE, fresh, { secure: o.secure, maxAgeS: 3600 }));
        return reply.code(403).send(signInPage({ pre: fresh, error: 'The form expired; sign in again.' }));
      }
      const operator = token ? resolveOperator(o.auth, token) : undefined;
      if (!operator)
        return reply
          .code(401)
          .send(signInPage({ pre, error: 'Unknown operator token (a tenant token does not sign in here).' }));
      const s = await sessions.create(sha256(token).toString('hex'));
      req.log.info({ operator: operator.name }, 'inbox sign-in');
      reply.header('Set-Cookie', [
        cookie(SESSION_COOKIE, s.id, { secure: o.secure, maxAgeS }),
        cookie(PRE_COOKIE, '', { secure: o.secure, maxAgeS: 0 }),
      ]);
      return reply.code(303).header('Location', '/inbox').send('');
    });

    scope.post('/inbox/sign-out', hide, async (req, reply) => {
      const s = req.inboxSession;
      if (s) {
        checkCsrf(req, s);
        await sessions.delete(s.id);
      }
      reply.header('Set-Cookie', cookie(SESSION_COOKIE, '', { secure: o.secure, maxAgeS: 0 }));
      return reply.code(303).header('Location', '/inbox').send('');
    });

    scope.get<{ Params: { file: string } }>('/inbox/assets/:file', hide, async (req, reply) => {
      const asset = await readAsset(req.params.file);
      if (!asset) throw new NotFoundError(`no asset ${req.params.file}`);
      reply.header('Cache-Control', 'no-cache');
      return reply.type(asset.type).send(asset.body);
    });

    scope.get('/inbox/api/queue', hide, async (req) => {
      const op = requireRole(signedIn(req).operator, 'viewer');
      const q = parse(QueueQuerySchema, req.query, 'query');
      if (q.tenant) canSee(op, q.tenant);
      const query = { status: q.status, limit: 1000, ...(q.tenant ? { tenant: q.tenant } : {}) };
      const mine = (e: { tenant: string }) => inScope(op, e.tenant);
      const all = await listEscalations(o.store, query, mine); // one scan of ESCALATIONS
      const escalations = all
        .filter((e) => !q.reason || e.reason === q.reason)
        .map((e) => ({ ...e, evidence: withoutText(e.evidence) }));
      // The reasons to filter by: those of the escalations this operator may see.
      return { escalations, reasons: [...new Set(all.map((e) => e.reason))].sort() };
    });

    scope.get<{ Params: { id: string } }>('/inbox/api/escalations/:id', hide, async (req) => {
      const op = requireRole(signedIn(req).operator, 'viewer');
      const { id } = parse(IdSchema, req.params, 'path');
      const esc = await showEscalation(o.store, id);
      if (!esc) throw new NotFoundError(`no escalation ${id}`);
      canSee(op, esc.tenant);
      const [conversation, consent, evidence] = await Promise.all([
        conversationView(o.conversations, esc.tenant, esc.conversation, o.trailLimit),
        getConsent(o.store, esc.tenant, esc.conversation),
        evidenceOf(o.store, esc.evidence, { fullText, textFields }),
      ]);
      const state = (conversation?.state ?? {}) as {
        profile?: Record<string, unknown>;
        safety?: { held?: unknown[]; risk?: unknown; resolved?: unknown };
        events?: number;
        last?: unknown;
      };
      const now = (o.now ?? Date.now)();
      const segments: string[] = [];
      for (const [name, predicate] of o.segments?.() ?? []) {
        try {
          if (predicate({ event: {}, profile: state.profile ?? {}, conversation: state, now }))
            segments.push(name);
        } catch {
          // A segment that cannot read this profile is not one the fan is in.
        }
      }
      return {
        escalation: { ...esc, evidence },
        conversation: {
          tenant: esc.tenant,
          conversation: esc.conversation,
          events: state.events ?? 0,
          last: state.last ?? null,
          profile: state.profile ?? {},
          segments,
          held: state.safety?.held ?? [],
          risk: state.safety?.risk ?? null,
          resolved: state.safety?.resolved ?? null,
          trail: conversation?.trail ?? [],
        },
        consent,
        can: {
          resolve: !requireless(op, 'reviewer', esc.tenant),
          dnd: !requireless(op, 'operator', esc.tenant),
        },
      };
    });

    scope.post<{ Params: { id: string } }>('/inbox/api/escalations/:id/resolve', hide, async (req, reply) => {
      const s = signedIn(req);
      checkCsrf(req, s);
      const { id } = parse(IdSchema, req.params, 'path');
      const body = parse(ResolveSchema, req.body, 'body');
      const esc = await showEscalation(o.store, id);
      if (!esc) throw new NotFoundError(`no escalation ${id}`);
      canSee(s.operator, esc.tenant);
      const op = requireRole(s.operator, 'reviewer', esc.tenant);
      if (body.outcome === 'reply' && !body.reply)
        throw new ValidationError('a reply needs its text', [{ path: 'reply.text', message: 'required' }]);
      // Exclusive (safety-ops): resolved before, or by another operator at the same moment, is a 409 naming who.
      const result = await resolveEscalation(
        o.store,
        id,
        {
          outcome: body.outcome,
          by: op.name,
          note: body.note ?? 'via inbox',
          ...(body.reply ? { reply: { text: body.reply.text } } : {}),
        },
        { expectStatus: body.expectStatus },
      ).catch((err: unknown) => nameTheResolver(err, o.conversations, esc));
      req.log.info({ operator: op.name, escalationId: id, outcome: body.outcome }, 'inbox resolve');
      return reply.code(202).send({ ...result, by: op.name });
    });

    scope.post<{ Params: { id: string } }>('/inbox/api/escalations/:id/dnd', hide, async (req, reply) => {
      const s = signedIn(req);
      checkCsrf(req, s);
      const { id } = parse(IdSchema, req.params, 'path');
      const esc = await showEscalation(o.store, id);
      if (!esc) throw new NotFoundError(`no escalation ${id}`);
      canSee(s.operator, esc.tenant);
      const op = requireRole(s.operator, 'operator', esc.tenant);
      const result = await setConsent(o.store, esc.tenant, esc.conversation, {
        dnd: true,
        by: op.name,
        reason: `inbox, escalation ${id}`,
      });
      return reply.code(202).send({ ...result, by: op.name });
    });

    // Open event streams, ended when the server closes (a drain must not wait for pages to go away).
    const streams = new Set<ServerResponse>();
    scope.addHook('preClose', async () => {
      for (const res of streams) res.end();
    });
    scope.get('/inbox/api/events', hide, async (req, reply) => {
      const s = signedIn(req);
      const op = requireRole(s.operator, 'viewer');
      streams.add(reply.raw);
      reply.raw.on('close', () => streams.delete(reply.raw));
      // A signed-out or expired session's stream ends at the next keep-alive (which is not use: an open but
      // idle tab expires like any other).
      await serveEvents(
        req,
        reply,
        op,
        o.feed,
        async () => (await sessions.get(s.id, { extend: false })) !== undefined,
      );
    });
  });
}

function requireless(op: Operator, role: 'reviewer' | 'operator', tenant: string): boolean {
  try {
    requireRole(op, role, tenant);
    return false;
  } catch {
    return true;
  }
}

function randomPre(): string {
  return randomBytes(24).toString('base64url');
}

/** Server-sent events: one `change` per queue change the operator may see; a comment every 15 s keeps it open. */
async function serveEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  op: Operator,
  feed: InboxFeed | undefined,
  alive: () => Promise<boolean>,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  const send = (c: InboxChange) => {
    if (!inScope(op, c.tenant)) return;
    res.write(`event: change\ndata: ${JSON.stringify(c)}\n\n`);
  };
  const unsubscribe = feed?.subscribe(send);
  const keepAlive = setInterval(
    () =>
      void alive().then(
        (ok) => (ok ? res.write(': keep-alive\n\n') : res.end()),
        () => res.write(': keep-alive\n\n'), // storage unreachable for a moment: keep the page, check again
      ),
    15_000,
  );
  keepAlive.unref();
  const close = () => {
    clearInterval(keepAlive);
    unsubscribe?.();
  };
  req.raw.on('close', close);
  res.on('close', close);
  res.on('error', close);
  // `ready` once changes flow: the page reloads the queue then, so nothing between its load and now is missed.
  const live = feed ? await feed.ready() : false;
  if (!res.destroyed) res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ live })}\n\n`);
}
