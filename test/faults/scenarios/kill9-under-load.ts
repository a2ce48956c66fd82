/**
 * kill -9 of the single process from outside, twice, at arbitrary points under load (actor state commits,
 * outbound publishes, sends and acks all in flight), each followed by a restart.
 */
import { crashScenario } from '../crash-load.js';

export const scenario = crashScenario({
  name: 'kill9-under-load',
  description: 'SIGKILL from outside after 250 and 600 deliveries, restart each time; 50 x 20 over HTTP',
  killAtDeliveries: [250, 600],
});
