/** Webhook endpoint answering 429 with Retry-After: 1 to one request in 40 during load, one Parley process. */
import { webhookScenario } from '../webhook-load.js';

export const scenario = webhookScenario({
  name: 'webhook-429',
  description: 'receiver answers 429 Retry-After 1 s to 1 request in 40; 50 x 20 messages, 1 process',
  fault: { kind: 'throttle', every: 40, retryAfterSeconds: 1 },
});
