/**
 * Operations: /healthz (the process answers), /readyz (NATS connected, streams present, consumers bound),
 * /metrics (Prometheus text from the registry passed in), /openapi.json. Public: no tenant data in them.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { jsonResponse } from '../openapi.js';
import type { ReadinessProbe } from '../ports.js';
import { HealthResponseSchema, ReadinessResponseSchema } from '../schemas.js';

const tags = ['operations'];

export interface OperationsRoutesOptions {
  registry: Registry;
  readiness: ReadinessProbe;
  openapi: () => Record<string, unknown>;
}

export function registerOperationsRoutes(app: FastifyInstance, o: OperationsRoutesOptions): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Process is up',
        tags,
        response: { 200: jsonResponse('Up', HealthResponseSchema) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'NATS connected, streams present, consumers bound (503 names the failing checks)',
        tags,
        response: {
          200: jsonResponse('Ready', ReadinessResponseSchema),
          503: jsonResponse('Not ready', ReadinessResponseSchema.extend({ reason: z.string() })),
        },
      },
    },
    async (_req, reply) => {
      let checks: Awaited<ReturnType<ReadinessProbe['check']>>;
      try {
        checks = await o.readiness.check();
      } catch (err) {
        checks = [{ name: 'readiness', ok: false, detail: err instanceof Error ? err.message : String(err) }];
      }
      const failed = checks.filter((c) => !c.ok);
      if (failed.length === 0) return reply.code(200).send({ status: 'ready', checks });
      // `reason`: the failing checks in one line, for a probe log or `curl` without reading every check.
      const reason = failed.map((c) => `${c.name}: ${c.detail ?? 'not ok'}`).join('; ');
      return reply.code(503).send({ status: 'not_ready', reason, checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags,
        response: {
          200: { description: 'Prometheus text', content: { 'text/plain': { schema: z.string() } } },
        },
      },
    },
    async (_req, reply) => {
      const text = await o.registry.metrics();
      return reply.type(o.registry.contentType).send(text);
    },
  );

  let doc: Record<string, unknown> | undefined;
  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This document (OpenAPI 3.1, generated from the route schemas)',
        tags,
        response: { 200: jsonResponse('OpenAPI 3.1', z.record(z.string(), z.unknown())) },
      },
    },
    async () => {
      doc ??= o.openapi();
      return doc;
    },
  );
}
