/** kill -9 of the single process at the connectors' "recorded" point of a send (test hook), then restart. */
import { crashScenario } from '../crash-load.js';

export const scenario = crashScenario({
  name: 'crash-recorded',
  description:
    'SIGKILL at the "recorded" point of the 200th send (connectors.crashAt), restart; 50 x 20 over HTTP',
  crashAt: 'recorded',
  crashAfter: 200,
});
