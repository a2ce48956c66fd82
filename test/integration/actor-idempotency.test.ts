import { headers } from '@nats-io/transport-node';
import t from 'tap';
import { digestOf } from '../../actors/conversation/state.js';
import { decodeMsgpack } from '../../src/envelope/codec.js';
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

const PARTITIONS = 4;

t.test('runtime - the same message ID published twice is processed once', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  await startParley(t, testConfig(t, nats.url, PARTITIONS));
  const h = await connect(t, nats.url);

  const e1 = event('acme', 'dup', 1);
  const e2 = event('acme', 'dup', 2);
  const [first] = await publishEvents(h, [e1]);
  const [again] = await publishEvents(h, [e1]);
  t.equal(again!.duplicate, true, 'the server reports the second publish as a duplicate');
  t.equal(again!.seq, first!.seq, 'with the original sequence');
  await publishEvents(h, [e2, e1]);

  const stored = await waitFor('two events applied', async () => {
    const s = await readState(h, 'acme', 'dup');
    return s && s.state.events >= 2 ? s : undefined;
  });
  await new Promise((r) => setTimeout(r, 300));
  const after = await readState(h, 'acme', 'dup');
  t.equal(after!.state.events, 2, 'two distinct events applied, the repeats ignored');
  t.equal(after!.state.digest, digestOf([e1.id, e2.id]));
  t.equal(stored.state.counts['message.received'], 2);
  t.equal(await streamCount(h, 'ACTIONS'), 2, 'one action per distinct event');
});

t.test(
  'runtime - an undecodable event is dead-lettered with its reason and the conversation keeps going',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    await startParley(t, testConfig(t, nats.url, PARTITIONS));
    const h = await connect(t, nats.url);

    await publishEvents(h, [event('acme', 'poison', 1)]);
    // 0xc1 is never used in msgpack; no Content-Type, so it is sniffed as msgpack and fails.
    await h.js.publish('ingest.acme.poison.message.received', new Uint8Array([0xc1, 0x00, 0x01]), {
      msgID: 'garbage-1',
    });
    // Valid JSON, but not an event: occurredAt is not a timestamp.
    const bad = headers();
    bad.set('Content-Type', 'application/json');
    await h.js.publish(
      'ingest.acme.poison.message.received',
      new TextEncoder().encode(JSON.stringify({ id: 'bad-2', occurredAt: 'yesterday' })),
      {
        msgID: 'bad-2',
        headers: bad,
      },
    );
    // A JSON event published straight to NATS, no envelope fields but the id: accepted.
    const ok = headers();
    ok.set('Content-Type', 'application/json');
    await h.js.publish(
      'ingest.acme.poison.message.received',
      new TextEncoder().encode(JSON.stringify({ id: 'json-3', attributes: { text: 'hi' } })),
      {
        msgID: 'json-3',
        headers: ok,
      },
    );
    await publishEvents(h, [event('acme', 'poison', 4)]);

    const stored = await waitFor('valid events applied', async () => {
      const s = await readState(h, 'acme', 'poison');
      return s && s.state.events >= 3 ? s : undefined;
    });
    t.equal(
      stored.state.digest,
      digestOf(['poison-e1', 'json-3', 'poison-e4']),
      'valid events applied in order around the bad ones',
    );

    await waitFor('two dead letters', async () => (await streamCount(h, 'DLQ')) >= 2);
    t.equal(await streamCount(h, 'DLQ'), 2, 'exactly the two bad events are dead-lettered');
    const first = (await h.jsm.streams.getMessage('DLQ', { seq: 1 }))!;
    const body = decodeMsgpack(first.data) as {
      reason: string;
      error: string;
      source: { subject: string; seq: number };
    };
    t.equal(first.subject, 'dlq.events.acme');
    t.equal(body.reason, 'undecodable');
    t.match(body.error, /msgpack/, 'the error names what failed');
    t.match(first.header.get('Parley-Error'), /undecodable/, 'readable in nats stream view');
    const second = decodeMsgpack((await h.jsm.streams.getMessage('DLQ', { seq: 2 }))!.data) as {
      error: string;
    };
    t.match(second.error, /occurredAt/, 'the field at fault is named');
    // Acked once dead-lettered: nothing is redelivered and dead-lettered again.
    await new Promise((r) => setTimeout(r, 500));
    t.equal(await streamCount(h, 'DLQ'), 2, 'still two after settling');
  },
);
