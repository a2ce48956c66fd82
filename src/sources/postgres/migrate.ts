/**
 * Applies the outbox schema (schema-sql.ts) in one transaction under an advisory lock: safe to run on every
 * deploy and from several processes at once; a failure leaves the database as it was.
 */
import pg from 'pg';
import { LOCK_CLASS_SQL, MIGRATION_SQL } from './schema-sql.js';

export interface MigrationReport {
  /** Whether parley_outbox existed before this run. */
  existed: boolean;
  /** Server version, e.g. "15.14". */
  serverVersion: string;
}

/** Postgres 11+ (EXECUTE FUNCTION in triggers, hashtext, FOR UPDATE SKIP LOCKED). */
const MIN_SERVER_VERSION_NUM = 110000;

export async function migrateOutbox(
  dsn: string,
  options: { connectTimeoutMs?: number } = {},
): Promise<MigrationReport> {
  const client = new pg.Client({
    connectionString: dsn,
    application_name: 'parley-migrate',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
  });
  await client.connect();
  try {
    const version = await client.query<{ v: string; n: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n",
    );
    const serverVersion = version.rows[0]!.v;
    if (Number(version.rows[0]!.n) < MIN_SERVER_VERSION_NUM)
      throw new Error(`Postgres ${serverVersion} is too old for the outbox: 11 or later is needed`);
    await client.query('BEGIN');
    try {
      await client.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS_SQL}, 0)`);
      const before = await client.query<{ t: string | null }>(
        "SELECT to_regclass('parley_outbox')::text AS t",
      );
      await client.query(MIGRATION_SQL);
      await client.query('COMMIT');
      return { existed: before.rows[0]!.t !== null, serverVersion };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    await client.end();
  }
}
