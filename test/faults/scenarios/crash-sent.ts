/** kill -9 of the single process at the connectors' "sent" point of a send (test hook), then restart. */
import { crashScenario } from '../crash-load.js';

export const scenario = crashScenario({
  name: 'crash-sent',
  description:
    'SIGKILL at the "sent" point of the 200th send (connectors.crashAt), restart; 50 x 20 over HTTP',
  crashAt: 'sent',
  crashAfter: 200,
  tags: ['fast', 'crash'],
});
