/**
 * buildOpsApp(deps): the HTTP listener of a process without the ingest role (`parley start --http-port`):
 * /healthz, /readyz and /metrics only, the same routes and answers as the ingest API's (routes/operations.ts),
 * so every process of a deployment can be probed and scraped alike. No tenant data, no authentication.
 * Without listen(): the composition root listens.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../obs/logger.js';
import { installOpenApi, openApiDocument } from './openapi.js';
import type { ReadinessProbe } from './ports.js';
import { registerOperationsRoutes } from './routes/operations.js';

export interface OpsAppDeps {
  log: Logger;
  /** What /metrics serves: the process's registry. */
  registry: Registry;
  readiness: ReadinessProbe;
  version: string;
}

export function buildOpsApp(deps: OpsAppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http-ops' }) as FastifyBaseLogger,
    // Probes every few seconds would otherwise be most of the log.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance;
  installOpenApi(app, { version: deps.version, title: 'Parley process operations' });
  void app.register(async (scope) => {
    registerOperationsRoutes(scope, {
      registry: deps.registry,
      readiness: deps.readiness,
      openapi: () => openApiDocument(app),
    });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({
      error: {
        code: 'NOT_FOUND',
        message: `no route ${req.method} ${req.url.split('?')[0]} on this process`,
      },
    });
  });
  return app;
}
