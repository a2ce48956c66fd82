/**
 * POST /v1/events body -> events ready to publish, or every problem at once. Pure (the clock is passed in).
 *
 * What must stay true: the whole request is validated before anything is published (a batch with one bad
 * event publishes nothing); every issue names its path (`events.3.conversation`); an event may only name
 * the tenant of the credential; ids are derived for events sent without one.
 */
import type { z } from 'zod';
import type { DedupeKey } from '../envelope/dedupe-key.js';
import { SCHEMA_VERSION } from '../envelope/envelope.js';
import { type Issue, ValidationError } from '../errors/app-error.js';
import { ForbiddenError } from './errors.js';
import { derivedEventId, ingestMsgId } from './idempotency.js';
import type { PreparedEvent } from './ports.js';
import { type IngestEvent, type IngestLimits, ingestBatchSchema, ingestEventSchema } from './schemas.js';

export interface IngestBodyOptions {
  limits: IngestLimits;
  maxBatch: number;
  /** Time bucket of occurredAt for derived ids, in seconds. */
  dedupeWindowSeconds: number;
  /** Nats-Msg-Id of an event id (tenant-scoped, keyed when the deployment has a secret); default unkeyed. */
  msgId?: DedupeKey;
  now: () => number;
}

export interface IngestParser {
  parse(body: unknown, tenant: string, traceId: string): PreparedEvent[];
}

function joinPath(prefix: Array<string | number>, path: ReadonlyArray<PropertyKey>): string {
  return [...prefix, ...path].map(String).join('.');
}

/** zod issues -> Issue[] with full dotted paths; an unknown key becomes an issue on that key. */
export function zodToIssues(error: z.ZodError, prefix: Array<string | number> = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: joinPath(prefix, [...issue.path, key]), message: 'unknown field' });
      continue;
    }
    const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
    out.push({ path: joinPath(prefix, issue.path) || 'body', message: missing ? 'required' : issue.message });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function createIngestParser(options: IngestBodyOptions): IngestParser {
  const eventSchema = ingestEventSchema(options.limits, options.now);
  const batchSchema = ingestBatchSchema(options.maxBatch);
  const msgId = options.msgId ?? ingestMsgId;

  const prepare = (event: IngestEvent, tenant: string, traceId: string): PreparedEvent => {
    const id = event.id ?? derivedEventId(tenant, event, options.dedupeWindowSeconds);
    return {
      msgId: msgId(tenant, id),
      envelope: {
        schema: SCHEMA_VERSION,
        id,
        type: event.type,
        tenant,
        conversation: event.conversation,
        occurredAt: event.occurredAt,
        attributes: event.attributes ?? {},
        traceId: event.traceId ?? traceId,
      },
    };
  };

  return {
    parse(body, tenant, traceId) {
      if (!isObject(body)) {
        throw new ValidationError('invalid request body', [
          { path: 'body', message: 'expected one event object or { "events": [ ... ] }' },
        ]);
      }
      const batch = 'events' in body;
      let items: unknown[];
      if (batch) {
        const parsed = batchSchema.safeParse(body);
        if (!parsed.success) throw new ValidationError('invalid batch', zodToIssues(parsed.error));
        items = parsed.data.events;
      } else {
        items = [body];
      }
      const issues: Issue[] = [];
      const events: IngestEvent[] = [];
      items.forEach((item, index) => {
        const parsed = eventSchema.safeParse(item);
        if (parsed.success) events.push(parsed.data);
        else issues.push(...zodToIssues(parsed.error, batch ? ['events', index] : []));
      });
      if (issues.length > 0) {
        throw new ValidationError(
          `${issues.length} invalid field${issues.length === 1 ? '' : 's'}; nothing was published`,
          issues,
        );
      }
      const foreign = events.findIndex((e) => e.tenant !== undefined && e.tenant !== tenant);
      if (foreign >= 0) {
        throw new ForbiddenError(
          `${batch ? `events.${foreign}.tenant` : 'tenant'} is "${events[foreign]!.tenant}" but the credential ` +
            `belongs to "${tenant}"; nothing was published`,
          'TENANT_MISMATCH',
        );
      }
      return events.map((e) => prepare(e, tenant, traceId));
    },
  };
}
