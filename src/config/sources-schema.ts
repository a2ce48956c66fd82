/**
 * The `sources:` section of parley.yaml: where events come from besides the HTTP API and NATS subjects.
 * A configured source runs in the `source` role (`parley start` runs it whenever one is configured;
 * `parley source postgres` runs it alone). See src/sources/postgres/README.md.
 */
import { z } from 'zod';

export const PostgresSourceSchema = z
  .object({
    dsn: z
      .string()
      .min(1)
      .refine((dsn) => {
        try {
          return ['postgres:', 'postgresql:'].includes(new URL(dsn).protocol);
        } catch {
          return false;
        }
      }, 'must be a postgres:// or postgresql:// URL')
      .describe(
        'Connection URL of the database holding parley_outbox (postgres://user:pass@host:5432/db?sslmode=...); ' +
          'never logged; PARLEY_SOURCES__POSTGRES__DSN or --dsn override it',
      ),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(5000)
      .default(500)
      .describe('Rows claimed per transaction (published together, one wait for their PubAcks)'),
    pollIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe(
        'Safety poll: drain this often even if no NOTIFY arrived (LISTEN wakes it at once otherwise)',
      ),
    publishTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('How long a batch waits for its PubAcks before it is rolled back and retried'),
    retryInitialMs: z
      .number()
      .int()
      .min(1)
      .default(200)
      .describe('First retry delay after a failed batch or lost connection (doubles, with jitter)'),
    retryMaxMs: z.number().int().min(1).default(10_000).describe('Longest retry delay'),
    connectTimeoutMs: z.number().int().min(100).default(5000).describe('Postgres connect timeout'),
    idleInTransactionTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .default(60_000)
      .describe(
        'Postgres ends a source session idle this long inside a claim (a hung or stopped source), releasing its rows',
      ),
    idPrefix: z
      .string()
      .regex(/^[\x21-\x7e]{0,40}$/, 'printable ASCII without spaces, at most 40 characters')
      .default('pg-')
      .describe(
        'Event id of a row: <idPrefix><row id> (the idempotency key); give each database its own prefix when several feed one deployment',
      ),
    crashAt: z
      .enum(['published'])
      .optional()
      .describe(
        'TESTING ONLY: the process kills itself (SIGKILL) at this point of a batch (published: after the PubAcks, before the rows are stamped)',
      ),
    crashAfter: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('TESTING ONLY: crash at the crashAt point of the n-th batch'),
  })
  .strict();

export const SourcesSchema = z
  .object({
    postgres: PostgresSourceSchema.optional().describe('Events from a Postgres outbox table (parley_outbox)'),
  })
  .strict();

export type PostgresSourceConfig = z.output<typeof PostgresSourceSchema>;
