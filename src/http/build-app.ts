/**
 * buildApp(deps): the HTTP API as a Fastify instance, without listen() (tests use inject() or listen on port
 * 0; the ingest role listens). Owns the wire format: JSON bodies only (raw bytes kept for signatures), one
 * error shape `{ error: { code, message, issues? } }` and one mapping from errors to status codes:
 *   ValidationError 400 (issues name the field: path, field, index) · UnauthorizedError 401 · ForbiddenError 403
 *   · NotFoundError 404 · body too large 413 · other content types 415 · RetryableError 503 + Retry-After
 *   · anything else 500 (logged once, here).
 * Routes live in routes/, each declaring its zod schemas (validated, and collected into /openapi.json by
 * openapi.ts); authentication in request-auth.ts; NATS behind the ports in ports.ts.
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import type { ParleyConfig } from '../config/schema.js';
import { createDedupeKey } from '../envelope/dedupe-key.js';
import { errorMessage, RetryableError, ValidationError } from '../errors/app-error.js';
import { createHttpMetrics } from '../obs/http-metrics.js';
import type { Logger } from '../obs/logger.js';
import type { SafetyStore } from '../ops/safety-ops.js';
import { compileAuth } from './auth.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from './errors.js';
import type { InboxFeed } from './inbox/feed.js';
import { registerInboxRoutes } from './inbox/routes.js';
import type { SessionBackend } from './inbox/sessions.js';
import { createIngestParser } from './ingest-body.js';
import { installOpenApi, openApiDocument } from './openapi.js';
import type { ConversationReader, EventSink, ReadinessProbe, ReplayGuard } from './ports.js';
import { installRequestAuth, verifyPendingSignature } from './request-auth.js';
import { registerConversationRoutes } from './routes/conversations.js';
import { type DeadLetterOps, registerDlqRoutes } from './routes/dlq.js';
import { registerEventRoutes } from './routes/events.js';
import { registerOperationsRoutes } from './routes/operations.js';
import { type RuleRoutesOptions, registerRuleRoutes } from './routes/rules.js';
import { registerSafetyRoutes } from './routes/safety.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
export const API_VERSION = '0.1.0';

export interface AppTls {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
  clientAuth: 'none' | 'request' | 'require';
}

export interface AppDeps {
  config: Pick<ParleyConfig, 'http' | 'tenants' | 'admin'> &
    Partial<Pick<ParleyConfig, 'operators' | 'safety'>>;
  log: Logger;
  /** Where the metrics go, and what /metrics serves. */
  registry: Registry;
  events: EventSink;
  conversations: ConversationReader;
  replay: ReplayGuard;
  readiness: ReadinessProbe;
  /** PEM material read by the caller; the listener serves HTTPS when given. */
  tls?: AppTls;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Decision records returned with a conversation; default 50. */
  trailLimit?: number;
  /** Escalations, consent and kill switches for operators (src/ops/safety-ops.ts). */
  safety?: SafetyStore;
  /** POST /v1/evaluate and /v1/trigger, when the process has the rules (src/rules/). */
  rules?: RuleRoutesOptions;
  /** Dead letters for operators: GET /v1/dlq, /v1/dlq/:seq, POST /v1/dlq/:seq/redrive. */
  deadLetters?: DeadLetterOps;
  /** Live updates for the operator inbox at /inbox (served whenever `safety` is given). */
  inboxFeed?: InboxFeed;
  /** Shared inbox sessions (the parley-inbox-sessions bucket); default this process's memory. */
  inboxSessions?: SessionBackend;
  /** `runtime.dedupe.secret`: keys the Nats-Msg-Id of ingested events (src/envelope/dedupe-key.ts). */
  dedupeSecret?: string;
}

interface ErrorBody {
  error: {
    code: string;
    message: string;
    issues?: Array<{ path: string; field: string; index?: number; message: string }>;
  };
}

function issueOf(i: { path: string; message: string }) {
  const m = /^events\.(\d+)\.(.+)$/.exec(i.path);
  return m
    ? { path: i.path, field: m[2]!, index: Number(m[1]), message: i.message }
    : { path: i.path, field: i.path, message: i.message };
}

function bodyOf(code: string, message: string, issues?: ErrorBody['error']['issues']): ErrorBody {
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

const FASTIFY_STATUS: Record<string, { status: number; code: string; reason: string; field?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', reason: 'too_large', field: 'body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    reason: 'media_type',
    field: 'Content-Type',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_CONTENT_LENGTH',
    reason: 'validation',
    field: 'body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'VALIDATION_FAILED',
    reason: 'validation',
    field: 'body',
  },
};

/**
 * The path of a `__proto__` key, or of a `constructor` object with a `prototype`, anywhere in a parsed body
 * (what secure JSON parsers refuse): such a key would change an object's prototype when copied.
 */
function prototypeKey(value: unknown, path: string[] = []): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, v] of Object.entries(value)) {
    const here = [...path, key];
    if (key === '__proto__') return here.join('.');
    if (key === 'constructor' && typeof v === 'object' && v !== null && 'prototype' in v)
      return here.join('.');
    const found = prototypeKey(v, here);
    if (found) return found;
  }
  return undefined;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const { http } = deps.config;
  const now = deps.now ?? Date.now;
  const log = deps.log.child({ component: 'http' });
  const metrics = createHttpMetrics(deps.registry);
  const auth = compileAuth(deps.config);
  const https: HttpsServerOptions | undefined = deps.tls && {
    key: deps.tls.key,
    cert: deps.tls.cert,
    ...(deps.tls.ca ? { ca: deps.tls.ca } : {}),
    requestCert: deps.tls.clientAuth !== 'none',
    rejectUnauthorized: deps.tls.clientAuth === 'require',
  };

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One line per request would dominate the ingest path; errors are logged in the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: http.bodyLimitBytes,
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;

  // JSON only (strict UTF-8: no replacement characters stored silently); keep the raw bytes, which a signed
  // request's signature covers. A signed request is authenticated over those bytes before they are parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    if (req.signaturePending) {
      verifyPendingSignature(req, raw).then(
        () => parseJson(raw, done),
        (err: unknown) => done(err as Error, undefined),
      );
      return;
    }
    parseJson(raw, done);
  });
  function parseJson(raw: Buffer, done: (err: Error | null, value: unknown) => void): void {
    if (raw.length === 0) {
      done(
        new ValidationError('empty body', [{ path: 'body', message: 'expected a JSON object' }]),
        undefined,
      );
      return;
    }
    let text: string;
    try {
      text = STRICT_UTF8.decode(raw);
    } catch {
      done(
        new ValidationError('body is not valid UTF-8', [
          { path: 'body', message: 'JSON must be UTF-8; the body has an invalid byte sequence' },
        ]),
        undefined,
      );
      return;
    }
    try {
      const value: unknown = JSON.parse(text);
      const poisoned =
        text.includes('__proto__') || text.includes('constructor') ? prototypeKey(value) : undefined;
      if (poisoned) {
        done(new ValidationError('forbidden key', [{ path: poisoned, message: 'forbidden key' }]), undefined);
        return;
      }
      done(null, value);
    } catch (err) {
      done(
        new ValidationError('body is not valid JSON', [{ path: 'body', message: errorMessage(err) }]),
        undefined,
      );
    }
  }

  installRequestAuth(app, {
    auth,
    replay: deps.replay,
    toleranceSeconds: http.signatureToleranceSeconds,
    clientAuth: deps.tls?.clientAuth ?? 'none',
    now,
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((err: Error, req, reply) => {
    const reject = (status: number, reason: string, body: ErrorBody) => {
      if (req.routeOptions.url === '/v1/events') metrics.ingestRejectedTotal.inc({ reason });
      return reply.code(status).send(body);
    };
    if (err instanceof ValidationError) {
      return reject(
        400,
        'validation',
        bodyOf(err.code, err.message.split('\n')[0]!, err.issues.map(issueOf)),
      );
    }
    if (err instanceof UnauthorizedError) {
      reply.header('WWW-Authenticate', 'Bearer realm="parley"');
      return reject(401, 'unauthorized', bodyOf(err.code, err.message));
    }
    if (err instanceof ForbiddenError) return reject(403, 'forbidden', bodyOf(err.code, err.message));
    if (err instanceof NotFoundError) return reply.code(404).send(bodyOf(err.code, err.message));
    if (err instanceof RetryableError) {
      const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? http.retryAfterSeconds * 1000) / 1000));
      reply.header('Retry-After', String(seconds));
      log.warn(
        { err: { message: err.message, code: err.code }, route: req.routeOptions.url },
        'answering 503',
      );
      return reject(503, 'unavailable', bodyOf('UNAVAILABLE', `${err.message}; retry after ${seconds} s`));
    }
    const code = (err as { code?: string }).code;
    const known = code ? FASTIFY_STATUS[code] : undefined;
    if (known) {
      const issues = known.field
        ? [{ path: known.field, field: known.field, message: err.message }]
        : undefined;
      return reject(known.status, known.reason, bodyOf(known.code, err.message, issues));
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.code(status).send(bodyOf(code ?? 'BAD_REQUEST', err.message));
    log.error({ err, route: req.routeOptions.url }, 'request failed');
    return reply.code(500).send(bodyOf('INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(bodyOf('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  const limits = { ...http.limits };
  // Every route's zod schemas are validated and collected into /openapi.json.
  installOpenApi(app, { version: API_VERSION });
  // Routes in a plugin registered after swagger's, so its onRoute hook sees every one of them.
  void app.register(async (scope) => {
    registerOperationsRoutes(scope, {
      registry: deps.registry,
      readiness: deps.readiness,
      openapi: () => openApiDocument(app),
    });
    registerEventRoutes(scope, {
      parser: createIngestParser({
        limits,
        maxBatch: http.maxBatch,
        dedupeWindowSeconds: limits.dedupeWindowSeconds,
        msgId: createDedupeKey(deps.dedupeSecret),
        now,
      }),
      events: deps.events,
      limits,
      maxBatch: http.maxBatch,
      metrics,
      log,
      publishTimeoutMs: http.publishTimeoutMs,
    });
    if (deps.rules) registerRuleRoutes(scope, deps.rules);
    if (deps.safety)
      registerSafetyRoutes(scope, {
        store: deps.safety,
        tenants: Object.keys(deps.config.tenants),
        conversations: deps.conversations,
      });
    if (deps.deadLetters) registerDlqRoutes(scope, { deadLetters: deps.deadLetters });
    registerConversationRoutes(scope, {
      conversations: deps.conversations,
      tenants: Object.keys(deps.config.tenants),
      trailLimit: deps.trailLimit ?? 50,
    });
    if (deps.safety)
      registerInboxRoutes(scope, {
        auth,
        store: deps.safety,
        conversations: deps.conversations,
        tenants: Object.keys(deps.config.tenants),
        secure: !!deps.tls,
        trailLimit: deps.trailLimit ?? 50,
        ...(deps.inboxFeed ? { feed: deps.inboxFeed } : {}),
        ...(deps.inboxSessions ? { sessions: deps.inboxSessions } : {}),
        fullText: http.inbox.fullText,
        ...(deps.config.safety ? { textFields: deps.config.safety.textFields } : {}),
        sessionIdleMs: http.inbox.sessionIdleMinutes * 60_000,
        sessionAbsoluteMs: http.inbox.sessionMaxHours * 3_600_000,
        ...(deps.rules ? { segments: () => deps.rules!.evaluate().rules.segments } : {}),
        now,
      });
  });
  return app;
}
