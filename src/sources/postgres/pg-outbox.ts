/**
 * The outbox table through `pg` (the only code besides pg-listener.ts and migrate.ts that imports it):
 * claim a batch of pending rows in a transaction, and settle it (stamp what was published or dead-lettered,
 * then commit) or abandon it (roll back).
 *
 * What must stay true:
 *   - rows are claimed with FOR UPDATE SKIP LOCKED inside a transaction that stays open until the batch is
 *     settled, so a crashed source's rows are released by Postgres (its connection closes) and claimed again;
 *     `published_at` is stamped only after the PubAcks, in the same commit;
 *   - per-conversation order with several source processes: a batch keeps a conversation's rows only if it
 *     holds that conversation's advisory transaction lock and no earlier pending row of the conversation is
 *     outside the batch (locked by another source, or left by one that crashed). Without that, two sources
 *     could publish one conversation's rows in the wrong order.
 *   - idle_in_transaction_session_timeout bounds how long a stopped (SIGSTOP, hung) source can hold rows.
 */
import pg from 'pg';
import type { Logger } from '../../obs/logger.js';
import type { OutboxRow } from './outbox-row.js';
import { LOCK_CLASS_SQL } from './schema-sql.js';

export interface PgOutboxOptions {
  dsn: string;
  /** Postgres ends a session idle this long inside a transaction (its locks released), in ms. */
  idleInTransactionTimeoutMs: number;
  /** Connect timeout, in ms. */
  connectTimeoutMs: number;
  log: Logger;
}

/** A claimed batch: its rows (in id order) and how to finish it. Exactly one of settle/abandon is called. */
export interface ClaimedBatch {
  rows: OutboxRow[];
  /** Rows claimed but left for later (their conversation is busy elsewhere, or has an earlier pending row). */
  heldBack: number;
  settle(published: readonly string[], invalid: ReadonlyArray<{ id: string; error: string }>): Promise<void>;
  abandon(): Promise<void>;
}

export interface OutboxStore {
  claim(limit: number): Promise<ClaimedBatch>;
  /** Pending rows and the age in seconds of the oldest (by the database clock). */
  pending(): Promise<{ rows: number; oldestAgeSeconds: number }>;
  /** Backfill: marks rows with occurred_at >= since (not dead-lettered) pending again; returns how many. */
  requeueSince(since: Date, chunk: number): Promise<number>;
  /** Pending rows with id <= maxId (a backfill is done when this reaches 0). */
  pendingUpTo(maxId: string): Promise<number>;
  maxId(): Promise<string | undefined>;
  close(): Promise<void>;
}

const CLAIM_SQL = `
SELECT o.id::text AS row_id, o.tenant, o.conversation, o.type, o.occurred_at, o.attributes,
       extract(epoch FROM clock_timestamp() - o.created_at)::float8 AS age_seconds
FROM parley_outbox o
WHERE o.published_at IS NULL
ORDER BY o.id
LIMIT $1
FOR UPDATE SKIP LOCKED`;

const LOCK_SQL = `
SELECT k.t AS tenant, k.c AS conversation
FROM unnest($1::text[], $2::text[]) AS k(t, c)
WHERE pg_try_advisory_xact_lock(${LOCK_CLASS_SQL}, hashtext(k.t || chr(31) || k.c))`;

const FIRST_OUTSIDE_SQL = `
SELECT o.tenant, o.conversation, min(o.id)::text AS first_id
FROM parley_outbox o
JOIN unnest($1::text[], $2::text[]) AS k(t, c) ON o.tenant = k.t AND o.conversation = k.c
WHERE o.published_at IS NULL AND NOT (o.id = ANY($3::bigint[]))
GROUP BY o.tenant, o.conversation`;

const key = (tenant: string, conversation: string) => `${tenant}\u001f${conversation}`;

interface ClaimRow {
  /** Text, not bigint (beyond 2^53); named apart from the column so ORDER BY sorts the number. */
  row_id: string;
  tenant: string;
  conversation: string;
  type: string;
  occurred_at: Date;
  attributes: unknown;
  age_seconds: number;
}

export class PgOutbox implements OutboxStore {
  readonly #pool: pg.Pool;

  constructor(o: PgOutboxOptions) {
    this.#pool = new pg.Pool({
      connectionString: o.dsn,
      max: 2,
      application_name: 'parley-source',
      connectionTimeoutMillis: o.connectTimeoutMs,
      idle_in_transaction_session_timeout: o.idleInTransactionTimeoutMs,
      keepAlive: true,
    });
    // An idle pooled client whose server went away: the next checkout reconnects; never crash on it.
    this.#pool.on('error', (err) => o.log.debug({ err: err.message }, 'idle Postgres connection closed'));
  }

  async claim(limit: number): Promise<ClaimedBatch> {
    const client = await this.#pool.connect();
    // A checked-out client's connection errors are emitted on it (the pool listens only while it is idle);
    // the query in flight rejects as well, and that is where the batch's fate is decided.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    client.on('error', onError);
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      client.removeListener('error', onError);
      client.release(err ?? lost);
    };
    try {
      await client.query('BEGIN');
      const claimed = (await client.query<ClaimRow>(CLAIM_SQL, [limit])).rows;
      let rows = claimed;
      if (claimed.length > 0) {
        const convs = new Map<string, { t: string; c: string }>();
        for (const r of claimed) convs.set(key(r.tenant, r.conversation), { t: r.tenant, c: r.conversation });
        const ts = [...convs.values()].map((v) => v.t);
        const cs = [...convs.values()].map((v) => v.c);
        const locked = new Set(
          (await client.query<{ tenant: string; conversation: string }>(LOCK_SQL, [ts, cs])).rows.map((r) =>
            key(r.tenant, r.conversation),
          ),
        );
        const firstOutside = new Map(
          (
            await client.query<{ tenant: string; conversation: string; first_id: string }>(
              FIRST_OUTSIDE_SQL,
              [ts, cs, claimed.map((r) => r.row_id)],
            )
          ).rows.map((r) => [key(r.tenant, r.conversation), BigInt(r.first_id)]),
        );
        rows = claimed.filter((r) => {
          const k = key(r.tenant, r.conversation);
          if (!locked.has(k)) return false;
          const first = firstOutside.get(k);
          return first === undefined || BigInt(r.row_id) < first;
        });
      }
      const heldBack = claimed.length - rows.length;
      return {
        rows: rows.map((r) => ({
          id: r.row_id,
          tenant: r.tenant,
          conversation: r.conversation,
          type: r.type,
          occurredAt: r.occurred_at,
          attributes: r.attributes,
          ageSeconds: r.age_seconds,
        })),
        heldBack,
        settle: async (published, invalid) => {
          try {
            if (published.length > 0)
              await client.query(
                'UPDATE parley_outbox SET published_at = now() WHERE id = ANY($1::bigint[])',
                [published],
              );
            if (invalid.length > 0)
              await client.query(
                `UPDATE parley_outbox o SET published_at = now(), error = u.error
                 FROM unnest($1::bigint[], $2::text[]) AS u(id, error) WHERE o.id = u.id`,
                [invalid.map((i) => i.id), invalid.map((i) => i.error)],
              );
            await client.query('COMMIT');
            release();
          } catch (err) {
            release(err as Error);
            throw err;
          }
        },
        abandon: async () => {
          try {
            await client.query('ROLLBACK');
            release();
          } catch (err) {
            release(err as Error);
          }
        },
      };
    } catch (err) {
      // Destroy the client: its transaction (and locks) end with the connection.
      release(err as Error);
      throw err;
    }
  }

  async pending(): Promise<{ rows: number; oldestAgeSeconds: number }> {
    const { rows } = await this.#pool.query<{ n: string; age: number | null }>(
      `SELECT count(*)::text AS n, extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS age
       FROM parley_outbox WHERE published_at IS NULL`,
    );
    return { rows: Number(rows[0]?.n ?? 0), oldestAgeSeconds: rows[0]?.age ?? 0 };
  }

  async requeueSince(since: Date, chunk: number): Promise<number> {
    let total = 0;
    for (;;) {
      // In chunks: a long history never becomes one huge transaction; rows a source holds are skipped
      // (they are being published right now).
      const { rowCount } = await this.#pool.query(
        `UPDATE parley_outbox SET published_at = NULL WHERE id IN (
           SELECT id FROM parley_outbox
           WHERE occurred_at >= $1 AND published_at IS NOT NULL AND error IS NULL
           ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [since, chunk],
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < chunk) return total;
    }
  }

  async pendingUpTo(maxId: string): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM parley_outbox WHERE published_at IS NULL AND id <= $1::bigint',
      [maxId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async maxId(): Promise<string | undefined> {
    const { rows } = await this.#pool.query<{ id: string | null }>(
      'SELECT max(id)::text AS id FROM parley_outbox',
    );
    return rows[0]?.id ?? undefined;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
