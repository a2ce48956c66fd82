/**
 * Operations: /healthz (the process answers), /readyz (NATS connected, streams present, consumers bound),
 * /metrics (Prometheus text from the registry passed in), /openapi.json. Public: no tenant data in them.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ReadinessProbe } from '../ports.js';

export interface OperationsRoutesOptions {
  registry: Registry;
  readiness: ReadinessProbe;
  openapi: () => Record<string, unknown>;
}

export function registerOperationsRoutes(app: FastifyInstance, o: OperationsRoutesOptions): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    let checks: Awaited<ReturnType<ReadinessProbe['check']>>;
    try {
      checks = await o.readiness.check();
    } catch (err) {
      checks = [{ name: 'readiness', ok: false, detail: err instanceof Error ? err.message : String(err) }];
    }
    const ready = checks.every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await o.registry.metrics();
    return reply.type(o.registry.contentType).send(text);
  });

  let doc: Record<string, unknown> | undefined;
  app.get('/openapi.json', async () => {
    doc ??= o.openapi();
    return doc;
  });
}
