/**
 * Credentials of the HTTP API, compiled once from the config, and their verification. Pure: no I/O, the
 * clock is passed in; replay protection (which needs shared storage) is the caller's, through ReplayGuard.
 *
 * - Bearer tokens: per tenant (`tenants.<id>.auth.tokens`) or operator (`operators[].token`, and the deprecated
 *   `admin.tokens`, each an all-roles operator named "admin": src/http/operators.ts); the config holds
 *   `sha256:<hex>` or, for development, the plaintext. A presented token is hashed and compared with every
 *   known digest in constant time (no early exit), so timing reveals neither the token nor which one matched.
 * - Signed requests (service to service), Standard Webhooks style: headers `webhook-id`,
 *   `webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
 *   "<id>.<timestamp>.<body>">`, space-separated for key rotation), plus `parley-tenant` naming the tenant
 *   whose `auth.signingSecrets` sign it. A `whsec_<base64>` secret is base64-decoded, others used as text.
 *
 * What must stay true: every failure is 401 (unknown or bad credential), never a hint about which part was
 * wrong beyond a stable code; a valid credential used where it has no right is the caller's 403.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, type Issue } from '../errors/app-error.js';
import { ADMIN_OPERATOR, type Operator, type OperatorConfig, operatorOf } from './operators.js';

export type Principal =
  | { kind: 'tenant'; tenant: string; via: 'token' | 'signature' }
  | { kind: 'operator'; operator: Operator; via: 'token' };

export interface AuthSettings {
  tenants: Record<string, { auth: { tokens: readonly string[]; signingSecrets: readonly string[] } }>;
  admin: { tokens: readonly string[] };
  operators?: readonly OperatorConfig[];
}

interface TokenEntry {
  digest: Buffer;
  principal: Principal;
}

export interface CompiledAuth {
  readonly tokens: readonly TokenEntry[];
  readonly secrets: ReadonlyMap<string, readonly Buffer[]>;
}

const HASHED = /^sha256:([0-9a-f]{64})$/i;

export function sha256(text: string | Buffer): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `sha256:<hex>` of a token: what to put in parley.yaml instead of the plaintext. */
export function hashToken(token: string): string {
  return `sha256:${sha256(token).toString('hex')}`;
}

function tokenDigest(configured: string, path: string, issues: Issue[]): Buffer | undefined {
  if (configured.toLowerCase().startsWith('sha256:')) {
    const m = HASHED.exec(configured);
    if (!m) {
      issues.push({ path, message: 'a hashed token is sha256: followed by 64 hex digits' });
      return undefined;
    }
    return Buffer.from(m[1]!, 'hex');
  }
  return sha256(configured);
}

/** The key bytes of a signing secret: Standard Webhooks `whsec_<base64>`, or the text itself. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret);
}

/** Compiles the configured credentials; a malformed or shared token is a ConfigError naming it. */
export function compileAuth(settings: AuthSettings): CompiledAuth {
  const issues: Issue[] = [];
  const tokens: TokenEntry[] = [];
  const owners = new Map<string, string>();
  const add = (configured: string, path: string, principal: Principal) => {
    const digest = tokenDigest(configured, path, issues);
    if (!digest) return;
    const hex = digest.toString('hex');
    const owner = owners.get(hex);
    if (owner) {
      issues.push({
        path,
        message: `the same token is also configured at ${owner}; a token names one principal`,
      });
      return;
    }
    owners.set(hex, path);
    tokens.push({ digest, principal });
  };
  const secrets = new Map<string, Buffer[]>();
  for (const [tenant, t] of Object.entries(settings.tenants)) {
    for (const [i, tok] of t.auth.tokens.entries()) {
      add(tok, `tenants.${tenant}.auth.tokens.${i}`, { kind: 'tenant', tenant, via: 'token' });
    }
    secrets.set(
      tenant,
      t.auth.signingSecrets.map((s, i) => {
        const key = signingKey(s);
        if (key.length < 16) {
          issues.push({
            path: `tenants.${tenant}.auth.signingSecrets.${i}`,
            message: 'at least 16 bytes of key',
          });
        }
        return key;
      }),
    );
  }
  for (const [i, op] of (settings.operators ?? []).entries()) {
    add(op.token, `operators.${i}.token`, { kind: 'operator', operator: operatorOf(op), via: 'token' });
  }
  for (const [i, tok] of settings.admin.tokens.entries()) {
    add(tok, `admin.tokens.${i}`, { kind: 'operator', operator: ADMIN_OPERATOR, via: 'token' });
  }
  if (issues.length > 0) throw new ConfigError('invalid API credentials', issues);
  return { tokens, secrets };
}

/** The principal of a bearer token, or undefined. Constant time in the token and over all entries. */
export function verifyBearer(auth: CompiledAuth, token: string): Principal | undefined {
  return principalByDigest(auth, sha256(token));
}

/** The principal whose token has this SHA-256 digest. Compares against every entry, so constant time. */
function principalByDigest(auth: CompiledAuth, digest: Buffer): Principal | undefined {
  let found: Principal | undefined;
  for (const entry of auth.tokens) {
    if (timingSafeEqual(entry.digest, digest) && !found) found = entry.principal;
  }
  return found;
}

/**
 * The operator a token's SHA-256 digest (hex) names under the current configuration, or undefined: how an
 * inbox session, which keeps only the digest, finds its operator on every use. Constant time over entries.
 */
export function operatorByDigest(auth: CompiledAuth, digestHex: string): Operator | undefined {
  if (!/^[0-9a-f]{64}$/.test(digestHex)) return undefined;
  const found = principalByDigest(auth, Buffer.from(digestHex, 'hex'));
  return found?.kind === 'operator' ? found.operator : undefined;
}

/** The operator a bearer token names, or undefined (unknown, or a tenant's token). Constant time. */
export function resolveOperator(auth: CompiledAuth, token: string): Operator | undefined {
  const principal = verifyBearer(auth, token);
  return principal?.kind === 'operator' ? principal.operator : undefined;
}

export interface SignedRequest {
  tenant: string;
  id: string;
  timestamp: string;
  signature: string;
  body: Buffer;
}

export type SignatureFailure =
  | 'UNKNOWN_TENANT'
  | 'MALFORMED_SIGNATURE'
  | 'SIGNATURE_EXPIRED'
  | 'BAD_SIGNATURE';

export type SignatureResult =
  | { ok: true; principal: Principal; replayKey: string }
  | { ok: false; code: SignatureFailure; message: string };

/** The Standard Webhooks signature of `body` (without the `v1,` prefix). */
export function sign(key: Buffer, id: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/** Headers for a signed request: what a client (or a test) sends. */
export function signedHeaders(
  tenant: string,
  secret: string,
  body: string,
  options: { id: string; timestampSeconds: number },
): Record<string, string> {
  const timestamp = String(options.timestampSeconds);
  return {
    'parley-tenant': tenant,
    'webhook-id': options.id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${sign(signingKey(secret), options.id, timestamp, body)}`,
  };
}

/**
 * Verifies a signed request at `nowMs`. The replay key identifies the signed message (id and timestamp);
 * the caller claims it in the replay guard so the same request is accepted once.
 */
export function verifySignature(
  auth: CompiledAuth,
  req: SignedRequest,
  nowMs: number,
  toleranceSeconds: number,
): SignatureResult {
  const keys = auth.secrets.get(req.tenant);
  if (!keys || keys.length === 0) {
    return { ok: false, code: 'UNKNOWN_TENANT', message: 'no signing secret for this tenant' };
  }
  if (!/^\d{1,12}$/.test(req.timestamp) || req.id.length === 0 || req.id.length > 200) {
    return {
      ok: false,
      code: 'MALFORMED_SIGNATURE',
      message: 'webhook-id or webhook-timestamp is malformed',
    };
  }
  if (Math.abs(nowMs / 1000 - Number(req.timestamp)) > toleranceSeconds) {
    return {
      ok: false,
      code: 'SIGNATURE_EXPIRED',
      message: `webhook-timestamp is more than ${toleranceSeconds} seconds away from the server clock`,
    };
  }
  const presented = req.signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  let ok = false;
  for (const key of keys) {
    const expected = Buffer.from(sign(key, req.id, req.timestamp, req.body), 'base64');
    for (const candidate of presented) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) ok = true;
    }
  }
  if (!ok) return { ok: false, code: 'BAD_SIGNATURE', message: 'signature does not match' };
  const replayKey = sha256(`${req.id}\n${req.timestamp}`).toString('hex');
  return { ok: true, principal: { kind: 'tenant', tenant: req.tenant, via: 'signature' }, replayKey };
}
