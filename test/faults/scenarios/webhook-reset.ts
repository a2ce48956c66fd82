/** Webhook endpoint resetting the connection of one request in 40 before answering, one Parley process. */
import { webhookScenario } from '../webhook-load.js';

export const scenario = webhookScenario({
  name: 'webhook-reset',
  description: 'receiver resets the connection of 1 request in 40; 50 x 20 messages, 1 process',
  fault: { kind: 'reset', every: 40 },
});
