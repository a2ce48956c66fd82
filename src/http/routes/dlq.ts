/**
 * Dead letters for operators (viewer reads, operator redrives), the HTTP side of `parley dlq`: list, show,
 * redrive, each limited to the operator's tenants. The logic
 * is in src/connectors/dead-letters.ts (shared with the CLI): a redrive republishes the original message
 * unchanged (same action ID, so it cannot be delivered twice), records the operator action in AUDIT, and
 * removes the dead letter.
 *   GET /v1/dlq?channel=&tenant=&limit=    GET /v1/dlq/:seq    POST /v1/dlq/:seq/redrive { by? }
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type DeadLetterView, listVisible, type RedriveResult } from '../../connectors/dead-letters.js';
import {
  DeadLetterListSchema,
  DeadLetterSchema,
  DlqParamsSchema,
  DlqQuerySchema,
  RedriveResponseSchema,
} from '../admin-schemas.js';
import { NotFoundError } from '../errors.js';
import { errorResponses, jsonResponse } from '../openapi.js';
import { inScope } from '../operators.js';
import { operatorOf } from '../request-auth.js';

/** What the routes need of src/connectors/dead-letters.ts (DeadLetters implements it). */
export interface DeadLetterOps {
  list(filter: string, limit?: number): Promise<DeadLetterView[]>;
  show(seq: number): Promise<DeadLetterView | undefined>;
  redrive(seq: number, operator: string): Promise<RedriveResult>;
}

export interface DlqRoutesOptions {
  deadLetters: DeadLetterOps;
}

const RedriveBodySchema = z
  .object({
    by: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Ignored: AUDIT records the authenticated operator as the one who redrove it'),
  })
  .strict();

const config = { auth: 'viewer' } as const;
const tags = ['dlq'];

export function registerDlqRoutes(app: FastifyInstance, o: DlqRoutesOptions): void {
  const found = async (seq: number) => {
    const view = await o.deadLetters.show(seq);
    if (!view) throw new NotFoundError(`no dead letter ${seq} in the DLQ`);
    return view;
  };

  app.get(
    '/v1/dlq',
    {
      config,
      schema: {
        summary: 'Dead letters, oldest first (actions that exhausted retries or were refused, bad events)',
        tags,
        querystring: DlqQuerySchema,
        response: {
          200: jsonResponse('Dead letters', DeadLetterListSchema),
          ...errorResponses(400, 401, 403, 503),
        },
      },
    },
    async (req) => {
      const q = DlqQuerySchema.parse(req.query ?? {});
      const op = operatorOf(req, 'viewer', q.tenant);
      const scope = { ...q, ...(op.tenants ? { tenants: op.tenants } : {}) };
      const all = await listVisible(o.deadLetters, scope, q.limit);
      return { deadLetters: all.filter((d) => inScope(op, d.tenant)) };
    },
  );

  app.get(
    '/v1/dlq/:seq',
    {
      config,
      schema: {
        summary: 'One dead letter with its reason, last error and original payload',
        tags,
        params: DlqParamsSchema,
        response: {
          200: jsonResponse('The dead letter', DeadLetterSchema),
          ...errorResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (req) => {
      const view = await found(DlqParamsSchema.parse(req.params).seq);
      operatorOf(req, 'viewer', view.tenant ?? null);
      return view;
    },
  );

  app.post(
    '/v1/dlq/:seq/redrive',
    {
      config: { auth: 'operator' },
      schema: {
        summary: 'Republish a dead letter unchanged (same action ID: never delivered twice) and remove it',
        tags,
        params: DlqParamsSchema,
        body: RedriveBodySchema.optional(),
        response: {
          202: jsonResponse('Republished', RedriveResponseSchema),
          ...errorResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (req, reply) => {
      const { seq } = DlqParamsSchema.parse(req.params);
      RedriveBodySchema.parse(req.body ?? {});
      const view = await found(seq);
      const op = operatorOf(req, 'operator', view.tenant ?? null);
      const result = await o.deadLetters.redrive(seq, op.name);
      reply.code(202);
      return result;
    },
  );
}
