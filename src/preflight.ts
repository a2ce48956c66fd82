/**
 * Start-up validation, part of the composition root (main.ts): everything `parley start` can check without
 * NATS is checked before it starts an embedded server, connects, or acquires anything, so a process that
 * would fail (an admin token equal to a tenant token, rules that do not compile, a missing TLS file) never
 * first takes partition leases, recreates consumers or opens ports. Every issue is reported at once, in one
 * ConfigError.
 *
 * What must stay true: nothing here touches the network or writes a file; a check belongs here when start()
 * would otherwise throw on it after connecting.
 */
import { existsSync } from 'node:fs';
import { parsePartitionSet } from './config/load.js';
import type { ParleyConfig } from './config/schema.js';
import { ConfigError, errorMessage, type Issue } from './errors/app-error.js';
import { compileAuth } from './http/auth.js';
import { loadDefinitions } from './nats/definitions.js';
import { loadRuleSet } from './rules/rule-set.js';
import { SafetyPolicy } from './safety/policy.js';

type PreflightRole = 'actors' | 'connectors' | 'scheduler' | 'ingest' | 'source';

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Runs `check`, turning what it throws into issues (a ConfigError's own, or one under `path`). */
function collect(issues: Issue[], path: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof ConfigError && err.issues.length > 0) issues.push(...err.issues);
    else issues.push({ path, message: errorMessage(err) });
  }
}

function fileExists(issues: Issue[], path: string, file: string | undefined): void {
  if (file !== undefined && !existsSync(file)) issues.push({ path, message: `file not found: ${file}` });
}

/**
 * Validates what the given roles will use; throws one ConfigError listing every issue. `provision`: the
 * streams/ definitions are applied at start-up (checked too).
 */
export function preflight(
  config: ParleyConfig,
  roles: ReadonlySet<PreflightRole>,
  options: { provision?: boolean } = {},
): void {
  const issues: Issue[] = [];
  const { nats, http } = config;
  fileExists(issues, 'nats.creds', nats.creds);
  fileExists(issues, 'nats.nkey', nats.nkey);
  fileExists(issues, 'nats.tls.ca', nats.tls?.ca);
  fileExists(issues, 'nats.tls.cert', nats.tls?.cert);
  fileExists(issues, 'nats.tls.key', nats.tls?.key);
  if (options.provision !== false) collect(issues, 'streams', () => loadDefinitions(config.streams));
  if (roles.has('actors') && config.runtime.partitions !== 'auto') {
    collect(issues, 'runtime.partitions', () =>
      parsePartitionSet(config.runtime.partitions, config.partitions),
    );
  }
  if (roles.has('actors') || roles.has('ingest') || roles.has('scheduler')) {
    collect(issues, 'rules', () => loadRuleSet(config.rules));
  }
  if (config.safety.enabled) collect(issues, 'safety', () => new SafetyPolicy(config.safety, config.tenants));
  if (roles.has('scheduler')) {
    for (const [tenant, t] of Object.entries(config.tenants)) {
      if (!validTimeZone(t.timeZone))
        issues.push({
          path: `tenants.${tenant}.timeZone`,
          message: `unknown time zone "${t.timeZone}" (use an IANA name like Europe/Paris)`,
        });
    }
  }
  if (roles.has('ingest')) {
    collect(issues, 'tenants', () => compileAuth(config));
    fileExists(issues, 'http.tls.cert', http.tls?.cert);
    fileExists(issues, 'http.tls.key', http.tls?.key);
    fileExists(issues, 'http.tls.ca', http.tls?.ca);
  }
  if (issues.length > 0)
    throw new ConfigError(
      `parley start: invalid configuration (${issues.length} issue${issues.length > 1 ? 's' : ''}); nothing was started`,
      issues,
    );
}
