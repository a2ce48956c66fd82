import t from 'tap';
import { decodeBody, decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import {
  eventHeaders,
  parseEventMessage,
  parseEventSubject,
  type RawEvent,
} from '../../src/envelope/event-message.js';
import { ValidationError } from '../../src/errors/app-error.js';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function raw(subject: string, data: Uint8Array, headers: Record<string, string> = {}): RawEvent {
  return { subject, data, header: (n) => headers[n], seq: 42, timestampMs: Date.UTC(2026, 4, 1) };
}

const full: EventEnvelope = {
  schema: 1,
  id: 'e1',
  type: 'message.received',
  tenant: 'acme',
  conversation: 'c42',
  occurredAt: '2026-05-01T10:00:00Z',
  attributes: { text: 'hi', n: 3 },
};

t.test('envelope - subjects parse into partition, tenant, conversation and a dotted type', async (t) => {
  t.same(parseEventSubject('evt.7.acme.c42.message.received'), {
    partition: 7,
    tenant: 'acme',
    conversation: 'c42',
    type: 'message.received',
  });
  t.equal(parseEventSubject('evt.x.acme.c42.t'), undefined);
  t.equal(parseEventSubject('act.webhook.acme.c42'), undefined);
});

t.test('envelope - msgpack round trip; JSON accepted by content type or by sniffing', async (t) => {
  t.same(parseEventMessage(raw('evt.1.acme.c42.message.received', encode(full))), full);
  t.same(
    parseEventMessage(
      raw('evt.1.acme.c42.message.received', json(full), { 'Content-Type': 'application/json' }),
    ),
    full,
  );
  t.same(parseEventMessage(raw('evt.1.acme.c42.message.received', json(full))), full, 'sniffed');
  t.same(decodeMsgpack(encode({ a: [1, 'x'] })), { a: [1, 'x'] });
});

t.test(
  'envelope - a bare body gets tenant, conversation, type from the subject, id from the header, time from the stream',
  async (t) => {
    const e = parseEventMessage(
      raw('evt.1.acme.c42.purchase.completed', json({ attributes: { amount: 5 } }), { 'Nats-Msg-Id': 'h1' }),
    );
    t.equal(e.tenant, 'acme');
    t.equal(e.conversation, 'c42');
    t.equal(e.type, 'purchase.completed');
    t.equal(e.id, 'h1');
    t.equal(e.occurredAt, '2026-05-01T00:00:00.000Z');
    t.same(e.attributes, { amount: 5 });
  },
);

t.test(
  'envelope - a body contradicting its subject, or invalid fields, is rejected naming the field',
  async (t) => {
    const mismatch = t.throws(() =>
      parseEventMessage(raw('evt.1.acme.c42.message.received', json({ ...full, tenant: 'other' }))),
    ) as ValidationError;
    t.ok(mismatch instanceof ValidationError);
    t.equal(mismatch.issues[0]!.path, 'tenant');
    const bad = t.throws(() =>
      parseEventMessage(
        raw('evt.1.acme.c42.message.received', json({ ...full, occurredAt: 'yesterday', extra: 1 })),
      ),
    ) as ValidationError;
    const paths = bad.issues.map((i) => i.path);
    t.ok(paths.includes('occurredAt'), `${paths}`);
    t.ok(
      bad.issues.some((i) => /extra/.test(i.message)),
      'unknown keys are named',
    );
    t.throws(
      () => parseEventMessage(raw('evt.1.acme.c42.message.received', json([1, 2]))),
      /must be an object/,
    );
    t.throws(() => decodeBody(new Uint8Array([0xc1, 0x00, 0x01])), /not valid msgpack/);
    t.throws(() => decodeBody(json('x').subarray(0, 0)), /empty body/);
  },
);

t.test('envelope - headers readable without decoding the body', async (t) => {
  const h = eventHeaders({ ...full, traceId: 't-1' });
  t.same(h, {
    'Nats-Msg-Id': 'e1',
    'Content-Type': 'application/msgpack',
    'Parley-Type': 'message.received',
    'Parley-Tenant': 'acme',
    'Parley-Conversation': 'c42',
    'Parley-Schema': '1',
    'Parley-Trace-Id': 't-1',
  });
});
