/**
 * Webhook endpoint answering 503 to one request in 50 during load, one Parley process: every acknowledged
 * event delivered once, each conversation's sends in order (issue 9's first finding).
 */
import { webhookScenario } from '../webhook-load.js';

export const scenario = webhookScenario({
  name: 'webhook-503',
  description: 'receiver answers 503 to 1 request in 50; 50 conversations x 20 messages over HTTP, 1 process',
  fault: { kind: 'fail', every: 50, status: 503 },
  tags: ['fast', 'webhook'],
});
