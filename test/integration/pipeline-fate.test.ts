/**
 * Every action reaches a fate: an action on a channel no connector serves (`sms`, which no tenant can
 * configure) is dead-lettered as `channel_not_configured`, reported to its conversation as
 * `action.failed` and recorded in AUDIT; it never sits on ACTIONS looking `sent`.
 */
import { join } from 'node:path';
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { deadLetters, outcomeEvents, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  event,
  publishEvents,
  ROOT,
  startParley,
  streamCount,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

t.test(
  'pipeline - an action for a channel nobody serves is dead-lettered, reported and audited',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 4 });
    const sim = await startSim(t);
    const config = testConfig(t, nats.url, 4, {
      rules: join(ROOT, 'test/fixtures/rules-unserved'),
      tenants: {
        acme: {
          channels: {
            webhook: { url: `${sim.url}/hooks/acme`, secret: 'whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ=' },
          },
        },
      },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    await publishEvents(h, [event('acme', 'u1', 1)]);

    const [dead] = await waitFor('the dead letter', async () => {
      const found = await deadLetters(h, 'dlq.sms.acme');
      return found.length > 0 ? found : undefined;
    });
    t.equal(dead!.reason, 'channel_not_configured', 'reason: channel_not_configured');
    t.match(String(dead!.error), /sms/, 'the error names the channel');
    const [failed] = await waitFor('the action.failed outcome', async () => {
      const found = await outcomeEvents(h, 'action.failed');
      return found.length > 0 ? found : undefined;
    });
    t.match(failed, { conversation: 'u1', attributes: { reason: 'channel_not_configured' } });
    await waitFor(
      'the audit record',
      async () => (await streamCount(h, 'AUDIT', 'audit.dead-letter.acme.u1')) === 1,
    );
    const m = await h.jsm.direct.getMessage('AUDIT', { last_by_subj: 'audit.dead-letter.acme.u1' });
    t.match(decodeMsgpack(m!.data), { reason: 'channel_not_configured' }, 'audited with its reason');
    t.equal(sim.stats().requests, 0, 'nothing was sent anywhere');
    const info = await h.jsm.consumers
      .info('ACTIONS', 'connectors-p' + String(0).padStart(2, '0'))
      .catch(() => undefined);
    t.ok(info, 'the partition consumers exist on ACTIONS');
  },
);
