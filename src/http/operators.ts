/**
 * Operators and their roles: who may do what on the admin routes, the CLI and the inbox page.
 *
 * `operators:` in parley.yaml lists `{ name, token, roles, tenants? }`. The token is plaintext (development) or
 * `sha256:<hex>`, hashed and compared in constant time exactly like tenant tokens (src/http/auth.ts, which
 * compiles both into one table so a token names one principal). Roles:
 *   - viewer       read escalations, conversations, consent, switches, the DLQ, rules and audit
 *   - reviewer     resolve escalations (resume, close, reply)
 *   - operator     pause and resume sends, set consent (DND), redrive or discard dead letters
 *   - rules-admin  push rules, replay, trigger a rule or journey
 * Every role includes viewer's reads (a reviewer has to see the queue it works). `tenants`, when given, limits
 * the operator to those tenants; without it the operator acts on every tenant (and on global scopes).
 *
 * `admin.tokens` (deprecated) each stand for one operator named "admin" holding every role on every tenant.
 *
 * What must stay true: the name audited for an action is the authenticated operator's, never request text;
 * a missing role is a 403 naming the role (code MISSING_ROLE), a tenant outside the scope a 403 naming the
 * tenant (code TENANT_NOT_IN_SCOPE).
 */
import { z } from 'zod';
import { TokenSchema } from '../contracts/envelope.js';
import { ForbiddenError } from './errors.js';

export const ROLES = ['viewer', 'reviewer', 'operator', 'rules-admin'] as const;
export type Role = (typeof ROLES)[number];

const ADMIN_NAME = 'admin';

/** Printable, no spaces: an operator's name goes into audit records and log lines. */
const NAME_PATTERN = /^[A-Za-z0-9._@-]+$/;

export const OperatorSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(NAME_PATTERN, 'letters, digits, ".", "_", "@" and "-"')
      .describe('Who this operator is: audited as `by` on everything they do'),
    token: z.string().min(1).describe('Bearer token: plaintext for development, or sha256:<hex>'),
    roles: z
      .array(z.enum(ROLES))
      .min(1)
      .describe('viewer (reads), reviewer (resolve), operator (pause/resume, consent, DLQ), rules-admin'),
    tenants: z
      .array(TokenSchema)
      .min(1)
      .optional()
      .describe('Only these tenants; omitted: every tenant and the global scopes'),
  })
  .strict();

export const OperatorsSchema = z
  .array(OperatorSchema)
  .default([])
  .superRefine((ops, ctx) => {
    const seen = new Map<string, number>();
    for (const [i, op] of ops.entries()) {
      const first = seen.get(op.name);
      if (first !== undefined || op.name === ADMIN_NAME) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message:
            op.name === ADMIN_NAME
              ? `"${ADMIN_NAME}" is the name of the admin.tokens operator; pick another`
              : `operators.${first}.name is also "${op.name}"; names are unique`,
        });
      }
      seen.set(op.name, i);
    }
  });

export type OperatorOptions = z.input<typeof OperatorSchema>;
export type OperatorConfig = z.output<typeof OperatorSchema>;

/** An authenticated operator: what the routes and the audit see (never the token). */
export interface Operator {
  readonly name: string;
  readonly roles: readonly Role[];
  /** Absent: every tenant. */
  readonly tenants?: readonly string[];
}

/** The operator every `admin.tokens` entry stands for: all roles, all tenants. */
export const ADMIN_OPERATOR: Operator = Object.freeze({ name: ADMIN_NAME, roles: Object.freeze([...ROLES]) });

export const ADMIN_TOKENS_DEPRECATION =
  'admin.tokens is deprecated: each token acts as one operator named "admin" with every role; list ' +
  'operators with their own names and roles under operators: (README "Operators and roles")';

/** The start-up warning for a config that still uses admin.tokens (logged once), or undefined. */
export function operatorDeprecations(config: { admin: { tokens: readonly string[] } }): string[] {
  return config.admin.tokens.length > 0 ? [ADMIN_TOKENS_DEPRECATION] : [];
}

export function operatorOf(config: OperatorConfig): Operator {
  return Object.freeze({
    name: config.name,
    roles: Object.freeze([...new Set(config.roles)]),
    ...(config.tenants ? { tenants: Object.freeze([...config.tenants]) } : {}),
  });
}

/** Whether `op` holds `role`. Every role includes viewer. */
export function hasRole(op: Operator, role: Role): boolean {
  return op.roles.includes(role) || (role === 'viewer' && op.roles.length > 0);
}

/** Whether `op` may act on `tenant` (undefined: a global scope, which only unscoped operators may touch). */
export function inScope(op: Operator, tenant: string | undefined): boolean {
  if (!op.tenants) return true;
  return tenant !== undefined && op.tenants.includes(tenant);
}

/** The 403 for an operator without `role`, or acting outside its tenants; undefined when allowed. */
export function roleError(op: Operator, role: Role, tenant?: string | null): ForbiddenError | undefined {
  if (!hasRole(op, role)) {
    return new ForbiddenError(
      `operator "${op.name}" lacks the "${role}" role this needs (has: ${op.roles.join(', ')})`,
      'MISSING_ROLE',
    );
  }
  // null: the action has no tenant (a global scope); undefined: the caller does not scope it.
  if (tenant === undefined) return undefined;
  if (!inScope(op, tenant ?? undefined)) {
    return new ForbiddenError(
      tenant === null
        ? `operator "${op.name}" is limited to tenants ${op.tenants?.join(', ')}; this scope spans all tenants`
        : `operator "${op.name}" is limited to tenants ${op.tenants?.join(', ')}, not "${tenant}"`,
      'TENANT_NOT_IN_SCOPE',
    );
  }
  return undefined;
}

/**
 * Throws the 403 unless `op` holds `role` (and, when `tenant` is given, may act on it; `null` for an action
 * spanning every tenant). Returns the operator, so a handler can write `const op = requireRole(...)`.
 */
export function requireRole(op: Operator, role: Role, tenant?: string | null): Operator {
  const err = roleError(op, role, tenant);
  if (err) throw err;
  return op;
}

/** The tenants `op` may see among `tenants` (a list filter for scoped operators). */
export function visibleTenants(op: Operator, tenants: readonly string[]): readonly string[] {
  return op.tenants ? tenants.filter((t) => op.tenants?.includes(t)) : tenants;
}
