import t from 'tap';
import { digestOf } from '../../actors/conversation/state.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  event,
  publishEvents,
  readState,
  startParley,
  streamCount,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 8;

t.test(
  'runtime - 200 conversations x 50 events are each processed in publish order, exactly once',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const config = testConfig(t, nats.url, PARTITIONS);
    await startParley(t, config);
    const h = await connect(t, nats.url);

    const conversations = Array.from({ length: 200 }, (_, i) => `c${i}`);
    // Interleave conversations so every partition has many conversations in flight at once.
    const events: EventEnvelope[] = [];
    for (let n = 0; n < 50; n++) for (const c of conversations) events.push(event('acme', c, n));
    const acks = await publishEvents(h, events);
    t.equal(acks.filter((a) => a.duplicate).length, 0, 'no publish was a duplicate');

    for (const c of conversations) {
      const expected = digestOf(Array.from({ length: 50 }, (_, n) => `${c}-e${n}`));
      const stored = await waitFor(`state of ${c}`, async () => {
        const s = await readState(h, 'acme', c);
        return s && s.state.events >= 50 ? s : undefined;
      });
      if (stored.state.events !== 50 || stored.state.digest !== expected) {
        t.fail(
          `${c}: ${stored.state.events} events, digest ${stored.state.digest} (expected 50, ${expected})`,
        );
        return;
      }
    }
    t.pass('every conversation applied its 50 events once, in publish order');
    t.equal(await streamCount(h, 'ACTIONS'), 10_000, 'one action per event (echo rule)');
  },
);
