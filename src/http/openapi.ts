/**
 * The OpenAPI 3.0 document served at /openapi.json, generated from the zod schemas the routes enforce
 * (z.toJSONSchema), so it describes exactly what is accepted. Refinements (limits, occurredAt in the future)
 * are not expressible in JSON Schema; they are named in the descriptions and in docs/api.md.
 */
import { type ZodType, z } from 'zod';
import {
  ConversationResponseSchema,
  ErrorResponseSchema,
  HealthResponseSchema,
  type IngestLimits,
  IngestResponseSchema,
  ingestBodySchema,
  ReadinessResponseSchema,
} from './schemas.js';

function schema(s: ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  return z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<string, unknown>;
}

const json = (s: ZodType, io: 'input' | 'output' = 'output') => ({
  'application/json': { schema: schema(s, io) },
});

function errors(...codes: number[]): Record<string, unknown> {
  const text: Record<number, string> = {
    400: 'Invalid request: error.issues names every field at fault (path, field, index)',
    401: 'Missing or invalid credential, expired or replayed signature',
    403: 'Valid credential without the right (other tenant, not an operator)',
    404: 'Not found',
    413: 'Body larger than http.bodyLimitBytes',
    415: 'Content-Type is not application/json',
    503: 'NATS unavailable or slow: nothing reported as stored; retry after Retry-After seconds with the same ids',
  };
  return Object.fromEntries(
    codes.map((c) => [String(c), { description: text[c], content: json(ErrorResponseSchema) }]),
  );
}

export interface OpenApiOptions {
  limits: IngestLimits;
  maxBatch: number;
  version: string;
}

export function openApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const tenantAuth = [{ bearer: [] }, { signature: [] }];
  const conversationParam = {
    name: 'conversation',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Parley API',
      version: options.version,
      description:
        'Event ingestion, conversation state and operations. Tenant routes take a tenant bearer token or a ' +
        'Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature, parley-tenant).',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Tenant or operator token (tenant = token)' },
        signature: {
          type: 'apiKey',
          in: 'header',
          name: 'webhook-signature',
          description:
            'v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>"> with the tenant signing ' +
            'secret; also send webhook-id, webhook-timestamp (unix seconds, ±5 min) and parley-tenant',
        },
      },
    },
    paths: {
      '/v1/events': {
        post: {
          summary: `Ingest one event or a batch of up to ${options.maxBatch}`,
          description:
            'The whole request is validated before anything is published; 202 only after JetStream ' +
            'acknowledged every event. Events without id get a derived idempotency key.',
          security: tenantAuth,
          requestBody: {
            required: true,
            content: json(ingestBodySchema(options.limits, options.maxBatch), 'input'),
          },
          responses: {
            '202': {
              description: 'Stored (or already stored: duplicate)',
              content: json(IngestResponseSchema),
            },
            ...errors(400, 401, 403, 413, 415, 503),
          },
        },
      },
      '/v1/conversations/{conversation}': {
        get: {
          summary: "A conversation's state and recent decision trail (tenant from the credential)",
          security: tenantAuth,
          parameters: [conversationParam],
          responses: {
            '200': { description: 'The stored state', content: json(ConversationResponseSchema) },
            ...errors(400, 401, 403, 404, 503),
          },
        },
      },
      '/v1/admin/tenants/{tenant}/conversations/{conversation}': {
        get: {
          summary: "Any tenant's conversation (operators)",
          security: [{ bearer: [] }],
          parameters: [{ ...conversationParam, name: 'tenant' }, conversationParam],
          responses: {
            '200': { description: 'The stored state', content: json(ConversationResponseSchema) },
            ...errors(400, 401, 403, 404, 503),
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Process is up',
          responses: { '200': { description: 'Up', content: json(HealthResponseSchema) } },
        },
      },
      '/readyz': {
        get: {
          summary: 'NATS connected, streams present, consumers bound',
          responses: {
            '200': { description: 'Ready', content: json(ReadinessResponseSchema) },
            '503': { description: 'Not ready (checks say why)', content: json(ReadinessResponseSchema) },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'Text exposition format', content: { 'text/plain': {} } } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.0' } } },
      },
    },
  };
}
