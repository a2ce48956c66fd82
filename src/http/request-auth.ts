/**
 * Authentication and authorization hooks. Each route declares `config.auth`: 'public', 'tenant', or the
 * operator role it needs ('viewer', 'reviewer', 'operator', 'rules-admin'; src/http/operators.ts).
 *
 * - onRequest: a bearer token is verified before the body is read (an unauthenticated client cannot make the
 *   server parse a megabyte); a client certificate offered in mTLS `request` mode must verify.
 * - A signed request is verified against the raw body bytes *before* they are parsed as JSON (build-app.ts's
 *   parser calls verifyPendingSignature), so an unauthenticated client cannot make the server parse a
 *   crafted body either; a bodiless signed request is verified in preHandler. Then its (id, timestamp) is
 *   claimed in the replay guard, shared by every ingest process, so the same signed request is accepted once.
 * Then the principal's role is checked: 401 for no or bad credentials, 403 for a good one without the right
 * (naming the missing role). Tenant scope is checked by the handler, which knows the tenant
 * (operatorOf(req, role, tenant)).
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type CompiledAuth, type Principal, verifyBearer, verifySignature } from './auth.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import { type Operator, type Role, requireRole as requireOperatorRole } from './operators.js';
import type { ReplayGuard } from './ports.js';

export type RouteAuth = 'public' | 'tenant' | Role;

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    rawBody: Buffer | undefined;
    signaturePending: boolean;
  }
}

type Verifier = (req: FastifyRequest, body: Buffer) => Promise<void>;
/** The verifier of each request whose signature is pending (set in onRequest). */
const pending = new WeakMap<FastifyRequest, Verifier>();

export interface RequestAuthOptions {
  auth: CompiledAuth;
  replay: ReplayGuard;
  toleranceSeconds: number;
  clientAuth: 'none' | 'request' | 'require';
  now: () => number;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function requireRole(required: RouteAuth, principal: Principal): void {
  if (required === 'public') return;
  if (required === 'tenant') {
    if (principal.kind !== 'tenant')
      throw new ForbiddenError('this route takes a tenant credential (the tenant comes from it)');
    return;
  }
  if (principal.kind !== 'operator') {
    throw new ForbiddenError(
      `this route needs an operator credential with the "${required}" role`,
      'MISSING_ROLE',
    );
  }
  requireOperatorRole(principal.operator, required);
}

/**
 * Verifies a pending signed request over `body`, the raw bytes, before anything parses them; a no-op for a
 * request that is not signed (or already verified). Throws the 401 or 403.
 */
export async function verifyPendingSignature(req: FastifyRequest, body: Buffer): Promise<void> {
  if (!req.signaturePending) return;
  const verify = pending.get(req);
  if (!verify) throw new UnauthorizedError('signed requests are not accepted here', 'BAD_SIGNATURE');
  await verify(req, body);
}

export function installRequestAuth(app: FastifyInstance, options: RequestAuthOptions): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('signaturePending', false);

  const verify: Verifier = async (req, body) => {
    req.signaturePending = false;
    const required = req.routeOptions.config.auth ?? 'public';
    const tenant = header(req, 'parley-tenant');
    const id = header(req, 'webhook-id');
    const timestamp = header(req, 'webhook-timestamp');
    if (!tenant || !id || !timestamp) {
      throw new UnauthorizedError(
        'a signed request needs parley-tenant, webhook-id and webhook-timestamp headers',
        'MALFORMED_SIGNATURE',
      );
    }
    const result = verifySignature(
      options.auth,
      { tenant, id, timestamp, signature: header(req, 'webhook-signature') ?? '', body },
      options.now(),
      options.toleranceSeconds,
    );
    if (!result.ok) {
      // Unknown tenant and wrong signature look the same from outside.
      const code = result.code === 'UNKNOWN_TENANT' ? 'BAD_SIGNATURE' : result.code;
      const message = result.code === 'UNKNOWN_TENANT' ? 'signature does not match' : result.message;
      throw new UnauthorizedError(message, code);
    }
    if (!(await options.replay.claim(tenant, result.replayKey))) {
      throw new UnauthorizedError('this signed request was already accepted (replay)', 'SIGNATURE_REPLAYED');
    }
    req.principal = result.principal;
    requireRole(required, result.principal);
  };

  app.addHook('onRequest', async (req) => {
    const required = req.routeOptions.config.auth ?? 'public';
    if (required === 'public') return;
    if (options.clientAuth === 'request') {
      const socket = req.raw.socket as TLSSocket;
      const offered =
        typeof socket.getPeerCertificate === 'function' &&
        Object.keys(socket.getPeerCertificate()).length > 0;
      if (offered && !socket.authorized) {
        throw new UnauthorizedError('the client certificate does not verify', 'CLIENT_CERTIFICATE_INVALID');
      }
    }
    const authorization = header(req, 'authorization');
    if (authorization !== undefined) {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
      if (!m) throw new UnauthorizedError('Authorization must be "Bearer <token>"', 'INVALID_CREDENTIALS');
      const principal = verifyBearer(options.auth, m[1]!);
      if (!principal) throw new UnauthorizedError('unknown token', 'INVALID_CREDENTIALS');
      req.principal = principal;
      requireRole(required, principal);
      return;
    }
    if (header(req, 'webhook-signature') !== undefined) {
      req.signaturePending = true; // verified over the raw body, before it is parsed
      pending.set(req, verify);
      return;
    }
    throw new UnauthorizedError(
      'send Authorization: Bearer <token>, or a signed request (webhook-id, webhook-timestamp, webhook-signature)',
      'MISSING_CREDENTIALS',
    );
  });

  // A signed request without a body (or with one no parser read) is verified over the empty or raw bytes.
  app.addHook('preHandler', async (req) => {
    if (req.signaturePending) await verify(req, req.rawBody ?? Buffer.alloc(0));
  });
}

/** The tenant of a request on a 'tenant' route (the hooks guarantee it). */
export function tenantOf(req: FastifyRequest): string {
  const p = req.principal;
  if (p?.kind !== 'tenant') throw new ForbiddenError('this route takes a tenant credential');
  return p.tenant;
}

/**
 * The operator of a request on an operator route, checked for `role` and, when given, for `tenant` (`null`:
 * the action spans every tenant). The name it returns is what the handler audits.
 */
export function operatorOf(req: FastifyRequest, role: Role, tenant?: string | null): Operator {
  const p = req.principal;
  if (p?.kind !== 'operator')
    throw new ForbiddenError(
      `this route needs an operator credential with the "${role}" role`,
      'MISSING_ROLE',
    );
  return requireOperatorRole(p.operator, role, tenant);
}
