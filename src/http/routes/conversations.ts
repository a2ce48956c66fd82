/**
 * Conversation views: GET /v1/conversations/:conversation (the credential's tenant) and the operator's
 * GET /v1/admin/tenants/:tenant/conversations/:conversation. Both return the state stored in parley-state
 * and the recent decision trail from AUDIT.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ValidationError } from '../../errors/app-error.js';
import { conversationView } from '../conversation-view.js';
import { NotFoundError } from '../errors.js';
import { zodToIssues } from '../ingest-body.js';
import { errorResponses, jsonResponse } from '../openapi.js';
import type { ConversationReader } from '../ports.js';
import { operatorOf, tenantOf } from '../request-auth.js';
import {
  AdminConversationParamsSchema,
  ConversationParamsSchema,
  ConversationResponseSchema,
} from '../schemas.js';

export interface ConversationRoutesOptions {
  conversations: ConversationReader;
  tenants: readonly string[];
  /** Decision records returned with a conversation. */
  trailLimit: number;
}

function parseParams<T extends z.ZodType>(schema: T, params: unknown): z.output<T> {
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new ValidationError('invalid path', zodToIssues(parsed.error));
  return parsed.data;
}

export function registerConversationRoutes(app: FastifyInstance, o: ConversationRoutesOptions): void {
  const view = async (tenant: string, conversation: string) => {
    const found = await conversationView(o.conversations, tenant, conversation, o.trailLimit);
    if (!found) throw new NotFoundError(`no conversation "${conversation}" yet`);
    return found;
  };

  const response = {
    200: jsonResponse('The stored state and recent decision trail', ConversationResponseSchema),
    ...errorResponses(400, 401, 403, 404, 503),
  };
  const tags = ['conversations'];
  app.get(
    '/v1/conversations/:conversation',
    {
      config: { auth: 'tenant' },
      schema: {
        summary: "A conversation's state and recent decision trail (tenant from the credential)",
        tags,
        params: ConversationParamsSchema,
        response,
      },
    },
    async (req) => {
      const { conversation } = parseParams(ConversationParamsSchema, req.params);
      return view(tenantOf(req), conversation);
    },
  );

  app.get(
    '/v1/admin/tenants/:tenant/conversations/:conversation',
    {
      config: { auth: 'viewer' },
      schema: {
        summary: "Any tenant's conversation (operators)",
        tags,
        params: AdminConversationParamsSchema,
        response,
      },
    },
    async (req) => {
      const { tenant, conversation } = parseParams(AdminConversationParamsSchema, req.params);
      operatorOf(req, 'viewer', tenant);
      if (!o.tenants.includes(tenant)) throw new NotFoundError(`no tenant "${tenant}"`);
      return view(tenant, conversation);
    },
  );
}
