/**
 * The partition consumer's liveness check against a real nats-server: a stage waiting for its next message
 * while the server holds messages it does not deliver (here: max_ack_pending reached by deliveries the stage
 * holds unacked, as a lost pull or a consumer whose state went wrong after a leader change looks from the
 * outside) gets its iterator failed with "stalled", so its partition is acquired afresh; a stage that is
 * merely idle (nothing pending) is left alone.
 */
import t from 'tap';
import { connectNats } from '../../src/nats/connection.js';
import { NatsPartitionSource } from '../../src/nats/partition-source.js';
import type { InboundMessage } from '../../src/runtime/ports.js';
import { startTestNats } from '../helpers/nats-server.js';

const nats = await startTestNats(t, { partitions: 4 });
const handles = await connectNats({ url: nats.url, reconnect: false });
t.teardown(() => handles.nc.close());
await handles.jsm.streams.add({ name: 'STALLTEST', subjects: ['stall.>'] });

function source(): NatsPartitionSource {
  return new NatsPartitionSource(handles, {
    stream: 'STALLTEST',
    consumerName: (p) => `stall-p${p}`,
    filterSubject: (p) => `stall.${p}.>`,
    ackWaitMs: 60_000,
    pullBatch: 2,
    maxAckPending: 2,
    stallCheckMs: 1_500,
  });
}

t.test(
  'partition-source - messages pending on the server but none delivered: the iterator fails',
  async (t) => {
    const consumer = await source().open(0);
    t.teardown(() => consumer.stop());
    const held: InboundMessage[] = [];
    const ended = (async () => {
      try {
        for await (const m of consumer.messages()) held.push(m); // held, never acked: max_ack_pending is reached
        return 'ended';
      } catch (err) {
        return String(err);
      }
    })();
    for (let i = 0; i < 5; i++) await handles.js.publish(`stall.0.m${i}`, new Uint8Array([i]));
    const outcome = await ended;
    t.match(outcome, /stalled \(\d+ pending, none delivered\)/, 'the consumer reports the stall');
    t.equal(held.length, 2, 'it had what max_ack_pending allowed');
  },
);

t.test('partition-source - an idle consumer with nothing pending is not a stall', async (t) => {
  const consumer = await source().open(1);
  let failed: unknown;
  const got: number[] = [];
  const reading = (async () => {
    try {
      for await (const m of consumer.messages()) {
        got.push(m.data[0]!);
        m.ack();
      }
    } catch (err) {
      failed = err;
    }
  })();
  await handles.js.publish('stall.1.a', new Uint8Array([1]));
  // Idle well past three stall checks: the watchdog asks the server, which has nothing pending.
  const info = async () => handles.jsm.consumers.info('STALLTEST', 'stall-p1');
  const deadline = Date.now() + 6_000;
  while (Date.now() < deadline && failed === undefined) {
    await new Promise((r) => setTimeout(r, 500));
    t.equal((await info()).num_pending, 0);
  }
  t.equal(failed, undefined, 'still consuming');
  await handles.js.publish('stall.1.b', new Uint8Array([2]));
  while (got.length < 2 && failed === undefined) await new Promise((r) => setTimeout(r, 50));
  t.same(got, [1, 2], 'and it still delivers');
  await consumer.stop();
  await reading;
});
