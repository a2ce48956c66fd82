/**
 * Metrics of the HTTP API and ingestion, on the registry the composition root passes in. Labels are
 * low-cardinality: route templates (never a conversation id), status codes, fixed outcome names.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export function createHttpMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requestSeconds: new Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request latency by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    ingestEventsTotal: new Counter({
      name: 'parley_ingest_events_total',
      help: 'Events acknowledged by the EVENTS stream through the API, by result (stored, duplicate = dedupe hit)',
      labelNames: ['result'] as const,
      registers,
    }),
    ingestRejectedTotal: new Counter({
      name: 'parley_ingest_rejected_requests_total',
      help: 'API requests refused, by reason (validation, unauthorized, forbidden, unavailable, too_large, media_type)',
      labelNames: ['reason'] as const,
      registers,
    }),
    ingestPublishSeconds: new Histogram({
      name: 'parley_ingest_publish_seconds',
      help: "Time from publishing a request's events to the last PubAck",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    ingestBatchEvents: new Histogram({
      name: 'parley_ingest_batch_events',
      help: 'Events per accepted POST /v1/events request',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
  };
}

export type HttpMetrics = ReturnType<typeof createHttpMetrics>;
