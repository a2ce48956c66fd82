/**
 * The pre-send gate at send time: a blocked action is acked, never sent, recorded in AUDIT
 * (audit.blocked.<tenant>.<conversation>) and reported as action.failed; a deferred one is tried again
 * later and then sent.
 */
import t from 'tap';
import type { PreSendGate } from '../../src/connectors/pre-send-gate.js';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { action, outcomeEvents, publishActions, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, streamCount, testConfig, waitFor } from '../helpers/parley.js';

t.test(
  'connectors - the pre-send gate blocks (acked, audited, never sent) and defers (sent later)',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 4 });
    const sim = await startSim(t);
    const config = testConfig(t, nats.url, 4, {
      tenants: { acme: { channels: { 'platform-dm': { url: sim.url } } } },
    });
    let deferrals = 0;
    const checked: string[] = [];
    const gate: PreSendGate = {
      async check(a) {
        checked.push(a.id);
        if (a.conversation === 'optedout')
          return { allow: false, outcome: 'blocked', reason: 'consent: opted out' };
        if (a.conversation === 'quiet' && deferrals++ < 1) {
          return { allow: false, outcome: 'deferred', reason: 'quiet hours', retryAfterMs: 300 };
        }
        return { allow: true };
      },
    };
    const parley = await start(config, {
      logger: createLogger({ level: 'silent' }),
      preSendGate: gate,
      drainMs: 5000,
    });
    t.teardown(() => parley.stop());
    const h = await connect(t, nats.url);
    const blocked = action('acme', 'optedout', 1, 'platform-dm');
    const deferred = action('acme', 'quiet', 1, 'platform-dm');
    const allowed = action('acme', 'fine', 1, 'platform-dm');
    await publishActions(h, [blocked, deferred, allowed], 4);

    await waitFor('2 deliveries', async () => sim.stats().accepted >= 2);
    await waitFor(
      'the audit record',
      async () => (await streamCount(h, 'AUDIT', 'audit.blocked.acme.optedout')) === 1,
    );
    await new Promise((r) => setTimeout(r, 500));
    t.equal(sim.requestCount(blocked.id), 0, 'the blocked action never reached the platform');
    t.equal(sim.requestCount(deferred.id), 1, 'the deferred action was sent once, later');
    t.ok(
      checked.filter((id) => id === deferred.id).length >= 2,
      'the gate was asked again after the deferral',
    );
    const audit = await h.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.blocked.acme.optedout' });
    const record = decodeMsgpack(audit!.data) as Record<string, unknown>;
    t.equal(record.action, blocked.id, 'the audit record names the action');
    t.equal(record.reason, 'consent: opted out', 'and the reason');
    const failed = await outcomeEvents(h, 'action.failed');
    t.equal(failed.length, 1, 'one action.failed outcome');
    t.match(failed[0]!.attributes, { outcome: 'blocked', reason: 'consent: opted out', action: blocked.id });
    let unacked = 0;
    for await (const c of h.jsm.consumers.list('ACTIONS')) unacked += c.num_ack_pending + c.num_pending;
    t.equal(unacked, 0, 'everything acked, the blocked action included');
  },
);
