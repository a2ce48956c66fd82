/**
 * Credentials of the embedded nats-server. `parley start` without nats.url runs a local server with the same
 * accounts and role users as the checked-in nats.conf; their passwords are generated once, kept in
 * `<dataDir>/nats-credentials.json` (mode 0600, reused across restarts so saved `nats` CLI contexts keep
 * working) and written literally into `<dataDir>/nats.conf` (also 0600). Parley itself connects as `admin`:
 * one process running every role needs the union of their grants, plus provisioning.
 *
 * What must stay true: a tenant added to parley.yaml later gets its producer user on the next start; an
 * existing password is never rotated silently.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/app-error.js';
import { NATS_ROLES, type NatsRole, type ServerAuthorization } from './permissions.js';

export const EMBEDDED_CREDENTIALS_FILE = 'nats-credentials.json';

const CredentialsSchema = z.object({
  roles: z.record(z.string(), z.string().min(16)),
  producers: z.record(z.string(), z.string().min(16)).default({}),
});

export interface EmbeddedCredentials {
  /** The file they are kept in. */
  file: string;
  roles: Record<NatsRole, string>;
  /** tenant -> password of user producer-<tenant>. */
  producers: Record<string, string>;
}

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Loads `<dataDir>/nats-credentials.json`, adding passwords for missing roles and tenants (and saving). */
export function loadEmbeddedCredentials(dataDir: string, tenants: readonly string[]): EmbeddedCredentials {
  const file = join(dataDir, EMBEDDED_CREDENTIALS_FILE);
  let stored: z.infer<typeof CredentialsSchema> = { roles: {}, producers: {} };
  if (existsSync(file)) {
    const parsed = CredentialsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) {
      throw new ConfigError(`${file} is not a Parley credentials file`, [
        { path: file, message: 'delete it to generate new passwords (and restart the embedded server)' },
      ]);
    }
    stored = parsed.data;
  }
  let changed = false;
  for (const role of NATS_ROLES) {
    if (!stored.roles[role]) {
      stored.roles[role] = newPassword();
      changed = true;
    }
  }
  for (const tenant of tenants) {
    if (!stored.producers[tenant]) {
      stored.producers[tenant] = newPassword();
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return { file, roles: stored.roles as Record<NatsRole, string>, producers: stored.producers };
}

/** The accounts block input for the embedded server. */
export function embeddedAuthorization(creds: EmbeddedCredentials): ServerAuthorization {
  return {
    roles: Object.fromEntries(
      NATS_ROLES.map((r) => [r, { value: creds.roles[r] }]),
    ) as ServerAuthorization['roles'],
    producers: Object.fromEntries(Object.entries(creds.producers).map(([t, p]) => [t, { value: p }])),
  };
}
