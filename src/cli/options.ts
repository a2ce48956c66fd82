/** Flags shared by commands, and the helpers that turn them into a loaded config. */
import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { type LoadedConfig, loadConfig } from '../config/load.js';
import type { ParleyConfig } from '../config/schema.js';
import { ValidationError } from '../errors/app-error.js';
import { compileAuth, resolveOperator } from '../http/auth.js';
import { type Operator, ROLES, type Role, requireRole } from '../http/operators.js';

export interface CommonFlags {
  config?: string;
  natsUrl?: string;
  json?: boolean;
}

export function withCommonFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: $PARLEY_CONFIG or ./parley.yaml)')
    .option('--nats-url <url>', 'NATS server URL (overrides nats.url)');
}

export function loadFromFlags(flags: CommonFlags, overrides: Record<string, unknown> = {}): LoadedConfig {
  const nats = flags.natsUrl ? { nats: { url: flags.natsUrl } } : {};
  const loaded = loadConfig({ file: flags.config, overrides: { ...nats, ...overrides } });
  for (const w of loaded.warnings) process.stderr.write(`parley: warning: ${w}\n`);
  return loaded;
}

/** Prints a result as JSON (--json) or as text lines. */
export function print(flags: { json?: boolean }, value: unknown, text: () => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

export interface OperatorFlags {
  token?: string;
}

/** `--token` (or PARLEY_OPERATOR_TOKEN): the operator a command acts as, when operators are configured. */
export function withOperatorFlags(cmd: Command): Command {
  return cmd.addOption(
    new Option('--token <token>', 'operator token (see README "Operators and roles")').env(
      'PARLEY_OPERATOR_TOKEN',
    ),
  );
}

/**
 * The operator a CLI command acts as, checked for `role` (and `tenant`; null: a scope spanning tenants), the
 * same check the HTTP routes make. With `operators:` configured, the token is required and resolved like a
 * bearer token (an `admin.tokens` entry then works too); without operators (only the deprecated admin.tokens,
 * or nothing: the NATS credentials are the guard) the command acts as `cli:<login>` with every role. Its name
 * is what the command audits.
 */
export function operatorFromFlags(
  config: Pick<ParleyConfig, 'operators' | 'admin' | 'tenants'>,
  flags: OperatorFlags,
  role: Role,
  tenant?: string | null,
): Operator {
  // Only the deprecated admin.tokens: the CLI keeps working as before (its NATS credentials are the
  // boundary); operator tokens are asked for once operators: are configured.
  if (config.operators.length === 0) {
    return { name: `cli:${userInfo().username}`, roles: ROLES };
  }
  if (!flags.token) {
    throw new ValidationError(`this command needs an operator token with the "${role}" role`, [
      { path: '--token', message: 'pass --token <token> or set PARLEY_OPERATOR_TOKEN' },
    ]);
  }
  const op = resolveOperator(compileAuth(config), flags.token);
  if (!op) {
    throw new ValidationError('unknown operator token', [
      { path: '--token', message: 'not the token of any entry under operators: (or admin.tokens)' },
    ]);
  }
  return requireRole(op, role, tenant);
}
