/**
 * POST /v1/events: validate the whole request, publish every event with its dedupe key, answer 202 only once
 * JetStream acknowledged all of them. A NATS failure propagates as RetryableError (503 + Retry-After).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HttpMetrics } from '../../obs/http-metrics.js';
import type { Logger } from '../../obs/logger.js';
import type { IngestParser } from '../ingest-body.js';
import { docOnly, errorResponses, jsonResponse } from '../openapi.js';
import type { EventSink } from '../ports.js';
import { tenantOf } from '../request-auth.js';
import { type IngestLimits, IngestResponseSchema, ingestBodySchema } from '../schemas.js';

export interface EventRoutesOptions {
  parser: IngestParser;
  events: EventSink;
  /** For the documented body schema (the parser enforces them). */
  limits: IngestLimits;
  maxBatch: number;
  metrics: HttpMetrics;
  log: Logger;
  publishTimeoutMs: number;
}

/** The trace id of a W3C traceparent header (version-traceid-parentid-flags), or a new one. */
export function traceIdOf(req: FastifyRequest): string {
  const tp = req.headers.traceparent;
  const m = typeof tp === 'string' ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp) : null;
  return m ? m[1]! : randomBytes(16).toString('hex');
}

export function registerEventRoutes(app: FastifyInstance, o: EventRoutesOptions): void {
  const schema = {
    summary: `Ingest one event or a batch of up to ${o.maxBatch}`,
    description:
      'The whole request is validated before anything is published; 202 only after JetStream acknowledged ' +
      'every event. Events without id get a derived idempotency key.',
    tags: ['events'],
    // Validated by the ingest parser (limits, per-index issues), documented here.
    body: docOnly(ingestBodySchema(o.limits, o.maxBatch)),
    response: {
      202: jsonResponse('Stored (or already stored: duplicate)', IngestResponseSchema),
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  };
  app.post('/v1/events', { config: { auth: 'tenant' }, schema }, async (req, reply) => {
    const tenant = tenantOf(req);
    const traceId = traceIdOf(req);
    const prepared = o.parser.parse(req.body, tenant, traceId);
    const started = performance.now();
    const stored = await o.events.publish(prepared, { timeoutMs: o.publishTimeoutMs });
    o.metrics.ingestPublishSeconds.observe((performance.now() - started) / 1000);
    const duplicates = stored.filter((s) => s.duplicate).length;
    o.metrics.ingestEventsTotal.inc({ result: 'stored' }, stored.length - duplicates);
    if (duplicates > 0) o.metrics.ingestEventsTotal.inc({ result: 'duplicate' }, duplicates);
    o.metrics.ingestBatchEvents.observe(stored.length);
    o.log.debug({ tenant, traceId, events: stored.length, duplicates }, 'events ingested');
    return reply.code(202).send({
      results: prepared.map((p, i) => ({
        id: p.envelope.id,
        seq: stored[i]!.seq,
        duplicate: stored[i]!.duplicate,
      })),
    });
  });
}
