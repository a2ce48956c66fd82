import t from 'tap';
import { redriveMessage, viewDeadLetter } from '../../src/connectors/dead-letters.js';
import { encode } from '../../src/envelope/codec.js';
import { deadLetter } from '../../src/runtime/outbound.js';
import type { InboundMessage } from '../../src/runtime/ports.js';

/** An EVENTS delivery as the actors see it, dead-lettered the way they do it. */
function stored(data: Uint8Array, headers: Record<string, string>) {
  const msg: InboundMessage = {
    seq: 41,
    subject: 'evt.3.acme.c1.message.received',
    data,
    timestampMs: Date.parse('2026-01-01T00:00:00Z'),
    deliveryCount: 1,
    header: (name) => headers[name],
    ack: () => {},
    nak: () => {},
    working: () => {},
  };
  const dl = deadLetter(msg, 'processing-failed', 'boom', 5);
  return { seq: 7, subject: dl.subject, time: new Date(), data: dl.data, headers: dl.headers ?? {} };
}

t.test(
  'dlq-redrive - a JSON event is republished as JSON, with its own headers and a fresh msg id',
  async (t) => {
    const json = new TextEncoder().encode('{"type":"message.received","attributes":{"text":"hi"}}');
    const record = stored(json, {
      'Content-Type': 'application/json',
      'Parley-Trace-Id': 'tr-1',
      'Nats-Msg-Id': 'orig',
    });
    t.equal(record.headers['Content-Type'], 'application/msgpack', 'the DLQ record itself is msgpack');
    const { message } = redriveMessage(record);
    t.equal(message.subject, 'evt.3.acme.c1.message.received');
    t.ok(Buffer.from(message.data).equals(Buffer.from(json)), 'the original bytes');
    t.equal(message.headers?.['Content-Type'], 'application/json');
    t.equal(message.headers?.['Parley-Trace-Id'], 'tr-1');
    t.equal(message.headers?.['Nats-Msg-Id'], 'dlq.events.41.redrive.7');
    t.match(viewDeadLetter(record, true).payload, { attributes: { text: 'hi' } }, 'show decodes the JSON');
  },
);

t.test(
  'dlq-redrive - a msgpack event stays msgpack; one published without Content-Type gets none',
  async (t) => {
    const packed = encode({ type: 'message.received' });
    const { message } = redriveMessage(stored(packed, { 'Content-Type': 'application/msgpack' }));
    t.equal(message.headers?.['Content-Type'], 'application/msgpack');
    const bare = redriveMessage(stored(new TextEncoder().encode('{"type":"x"}'), {}));
    t.equal(bare.message.headers?.['Content-Type'], undefined, 'sniffed by the actors, as the original was');
  },
);
