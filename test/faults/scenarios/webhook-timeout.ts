/**
 * Webhook endpoint holding one request in 40 past the sender's timeout (2 s configured by the harness; held
 * 3 s, then the connection is dropped unanswered): the sender retries with the same webhook-id.
 */
import { webhookScenario } from '../webhook-load.js';

export const scenario = webhookScenario({
  name: 'webhook-timeout',
  description:
    'receiver holds 1 request in 40 for 3 s (sender timeout 2 s), then drops it; 30 x 20, 1 process',
  fault: { kind: 'hang', every: 40, holdMs: 3000 },
  conversations: 30,
});
