/**
 * Authentication and authorization hooks. Each route declares `config.auth`: 'public', 'tenant' or 'admin'.
 *
 * - onRequest: a bearer token is verified before the body is read (an unauthenticated client cannot make the
 *   server parse a megabyte); a client certificate offered in mTLS `request` mode must verify.
 * - preHandler: a signed request is verified against the raw body bytes, then its (id, timestamp) is claimed
 *   in the replay guard, shared by every ingest process, so the same signed request is accepted once.
 * Then the principal's role is checked: 401 for no or bad credentials, 403 for a good one without the right.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type CompiledAuth, type Principal, verifyBearer, verifySignature } from './auth.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';
import type { ReplayGuard } from './ports.js';

export type RouteAuth = 'public' | 'tenant' | 'admin';

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
  if (required === 'tenant' && principal.kind !== 'tenant') {
    throw new ForbiddenError('this route takes a tenant credential (the tenant comes from it)');
  }
  if (required === 'admin' && principal.kind !== 'admin') {
    throw new ForbiddenError('this route needs an operator (admin) credential');
  }
}

export function installRequestAuth(app: FastifyInstance, options: RequestAuthOptions): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('signaturePending', false);

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
      req.signaturePending = true; // verified once the body is read
      return;
    }
    throw new UnauthorizedError(
      'send Authorization: Bearer <token>, or a signed request (webhook-id, webhook-timestamp, webhook-signature)',
      'MISSING_CREDENTIALS',
    );
  });

  app.addHook('preHandler', async (req) => {
    if (!req.signaturePending) return;
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
      {
        tenant,
        id,
        timestamp,
        signature: header(req, 'webhook-signature') ?? '',
        body: req.rawBody ?? Buffer.alloc(0),
      },
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
  });
}

/** The tenant of a request on a 'tenant' route (the hooks guarantee it). */
export function tenantOf(req: FastifyRequest): string {
  const p = req.principal;
  if (p?.kind !== 'tenant') throw new ForbiddenError('this route takes a tenant credential');
  return p.tenant;
}
