/**
 * One outbox row -> the event the HTTP and NATS ingest would publish for it, or the fields at fault. Pure
 * (the clock is injected).
 *
 * What must stay true: a row is held to exactly what `POST /v1/events` accepts (the same parser: the same
 * schema, limits, reserved engine types and Nats-Msg-Id derivation), with the row id as the event id, so the
 * stream's dedupe and the actors' recent-id memory apply to a row republished after a crash or a backfill;
 * a row is refused with the field at fault (`tenant`, `type`, `attributes.x`, ...), never thrown past.
 */
import { createHash } from 'node:crypto';
import { SCHEMA_VERSION, TOKEN_PATTERN } from '../../contracts/envelope.js';
import { HDR_ERROR, messageHeaders } from '../../contracts/headers.js';
import type { OutboundMessage } from '../../contracts/ports.js';
import { encode } from '../../envelope/codec.js';
import type { DedupeKey } from '../../envelope/dedupe-key.js';
import { ValidationError } from '../../errors/app-error.js';
import { createIngestParser } from '../../http/ingest-body.js';
import type { PreparedEvent } from '../../http/ports.js';
import type { IngestLimits } from '../../http/schemas.js';

/** A claimed row as the store reads it. */
export interface OutboxRow {
  id: string;
  tenant: string;
  conversation: string;
  type: string;
  occurredAt: Date;
  attributes: unknown;
  /** Seconds from the row's insert to its claim, by the database's clock. */
  ageSeconds: number;
}

export type RowOutcome =
  | { type: 'event'; row: OutboxRow; event: PreparedEvent }
  | { type: 'invalid'; row: OutboxRow; error: string };

export interface RowConverterOptions {
  limits: IngestLimits;
  dedupeWindowSeconds: number;
  /** Nats-Msg-Id of (tenant, event id): the deployment's keyed dedupe key. */
  msgId: DedupeKey;
  /** Event id = idPrefix + row id. */
  idPrefix: string;
  /** Tenants the deployment serves; undefined: any. */
  tenants?: ReadonlySet<string>;
  now: () => number;
}

export type RowConverter = (row: OutboxRow) => RowOutcome;

/** `field: message; field: message`, as stored in the row's `error` column and the dead letter. */
function describe(err: ValidationError): string {
  return err.issues.length > 0 ? err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : err.message;
}

export function createRowConverter(o: RowConverterOptions): RowConverter {
  const parser = createIngestParser({
    limits: o.limits,
    maxBatch: 1,
    dedupeWindowSeconds: o.dedupeWindowSeconds,
    msgId: o.msgId,
    now: o.now,
  });
  return (row) => {
    const id = `${o.idPrefix}${row.id}`;
    if (o.tenants && !o.tenants.has(row.tenant)) {
      return { type: 'invalid', row, error: `tenant: "${row.tenant}" is not a tenant of this deployment` };
    }
    const occurredAt = Number.isFinite(row.occurredAt.getTime()) ? row.occurredAt.toISOString() : '';
    // Deterministic, so a republished row is the same message byte for byte.
    const traceId = createHash('sha256').update(id).digest('hex').slice(0, 32);
    try {
      const [event] = parser.parse(
        {
          id,
          tenant: row.tenant,
          type: row.type,
          conversation: row.conversation,
          occurredAt,
          attributes: row.attributes,
        },
        row.tenant,
        traceId,
      );
      return { type: 'event', row, event: event! };
    } catch (err) {
      if (err instanceof ValidationError) return { type: 'invalid', row, error: describe(err) };
      throw err;
    }
  };
}

/**
 * The dead letter of an invalid row, on `dlq.events.<tenant>` (`_invalid` when the tenant is not a subject
 * token): the reason, the fields at fault and the row as JSON, with an id derived from the row id, so a row
 * dead-lettered twice (a crash before the stamp) is stored once.
 */
export function rowDeadLetter(row: OutboxRow, error: string, idPrefix: string): OutboundMessage {
  const tenant = TOKEN_PATTERN.test(row.tenant) ? row.tenant : '_invalid';
  const conversation = TOKEN_PATTERN.test(row.conversation) ? row.conversation : '_invalid';
  const id = `dlq.events.${idPrefix}${row.id}`;
  const data = Buffer.from(
    JSON.stringify({
      id: row.id,
      tenant: row.tenant,
      conversation: row.conversation,
      type: row.type,
      occurred_at: Number.isFinite(row.occurredAt.getTime()) ? row.occurredAt.toISOString() : null,
      attributes: row.attributes,
    }),
  );
  return {
    subject: `dlq.events.${tenant}`,
    data: encode({
      schema: SCHEMA_VERSION,
      id,
      kind: 'event',
      reason: 'invalid_outbox_row',
      error,
      attempts: 1,
      source: { stream: 'postgres:parley_outbox', seq: Number(row.id), subject: '' },
      data,
    }),
    msgId: id,
    headers: {
      ...messageHeaders(id, 'dead-letter', { tenant, conversation }),
      [HDR_ERROR]: `invalid_outbox_row: ${error}`.slice(0, 200).replace(/[\r\n]/g, ' '),
    },
  };
}
