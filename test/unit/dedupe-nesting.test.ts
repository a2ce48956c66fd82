import t from 'tap';
import { LimitsExceededError } from '../../src/envelope/attribute-limits.js';
import { decodeBody, decodeMsgpack, encode } from '../../src/envelope/codec.js';
import { parseEventMessage, type RawEvent } from '../../src/envelope/event-message.js';
import { checkJsonNesting, checkMsgpackNesting } from '../../src/envelope/nesting.js';
import { ValidationError } from '../../src/errors/app-error.js';

/** msgpack bytes of `depth` nested one-key maps around null, written by hand (no recursive encoder). */
function deepMsgpack(depth: number): Uint8Array {
  const out = new Uint8Array(depth * 3 + 1);
  for (let i = 0; i < depth; i++) out.set([0x81, 0xa1, 0x61], i * 3);
  out[depth * 3] = 0xc0;
  return out;
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? { k: v, s: 'x' } : [v, 'y'];
  return v;
}

t.test('nesting - the msgpack scan agrees with the encoder on depth, for every kind of value', async (t) => {
  const values: unknown[] = [
    null,
    true,
    -1,
    2 ** 40,
    1.5,
    'é'.repeat(300),
    'x'.repeat(70_000),
    new Uint8Array(300),
    [],
    {},
    { a: [1, { b: [] }], c: 'd', e: undefined, f: new Date(0) },
    Array.from({ length: 70_000 }, (_, i) => i),
    nested(10),
  ];
  for (const v of values) t.same(checkMsgpackNesting(encode(v), 100), { ok: true });
  t.same(checkMsgpackNesting(encode(nested(10)), 10), { ok: true }, 'exactly at the limit');
  t.match(checkMsgpackNesting(encode(nested(11)), 10), { ok: false, reason: 'too-deep' });
});

t.test('nesting - malformed msgpack is refused, never read past its end', async (t) => {
  const good = encode({ a: 'hello', b: [1, 2, 3] });
  for (let cut = 1; cut < good.length; cut++) {
    t.match(
      checkMsgpackNesting(good.subarray(0, cut), 100),
      { ok: false, reason: 'malformed' },
      `cut ${cut}`,
    );
  }
  t.match(checkMsgpackNesting(new Uint8Array([0xc1]), 100), { ok: false, reason: 'malformed' });
  t.match(checkMsgpackNesting(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), 100), { ok: false });
  t.match(checkMsgpackNesting(new Uint8Array([0xd4, 0x73, 0x00]), 100), { ok: false }, 'a Set extension');
  t.match(checkMsgpackNesting(new Uint8Array([0x01, 0x02]), 100), { ok: false }, 'trailing bytes');
});

t.test('nesting - JSON depth counts brackets outside strings only', async (t) => {
  const text = (s: string) => new TextEncoder().encode(s);
  t.same(checkJsonNesting(text('{"a":[1,{"b":"[[[[{{{{\\"]]"}]}'), 3), { ok: true });
  t.match(checkJsonNesting(text('[[[[1]]]]'), 3), { ok: false, reason: 'too-deep' });
});

t.test(
  'codec - 5,000 and 100,000 levels are refused as too deep, without overflowing the stack',
  async (t) => {
    for (const depth of [5000, 100_000]) {
      t.throws(() => decodeMsgpack(deepMsgpack(depth)), LimitsExceededError, `msgpack ${depth}`);
      t.throws(() => decodeBody(deepMsgpack(depth)), LimitsExceededError);
      const json = new TextEncoder().encode(`${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`);
      t.throws(() => decodeBody(json), LimitsExceededError, `JSON ${depth}`);
    }
    t.same(decodeMsgpack(encode({ a: [1] })), { a: [1] }, 'normal values decode as before');
    t.throws(() => decodeBody(new Uint8Array([0xc1, 0x00])), ValidationError);
  },
);

const LIMITS = {
  maxAttributeDepth: 8,
  maxAttributesBytes: 32 * 1024,
  maxStringLength: 8192,
  maxKeyLength: 128,
};

function raw(data: Uint8Array, subject = 'evt.3.acme.c1.message.received'): RawEvent {
  return { subject, data, header: () => undefined, seq: 7, timestampMs: Date.UTC(2026, 0, 1) };
}

t.test('event-message - with limits, an event from any path is held to the ingest limits', async (t) => {
  const ok = { id: 'e1', attributes: { text: 'hi', nested: nested(6) } };
  t.equal(parseEventMessage(raw(encode(ok)), LIMITS).id, 'e1');
  const deepAttrs = encode({ id: 'e2', attributes: { x: nested(9) } });
  t.throws(() => parseEventMessage(raw(deepAttrs), LIMITS), LimitsExceededError, 'too deep, decoded');
  t.doesNotThrow(() => parseEventMessage(raw(deepAttrs)), 'without limits: only the envelope is checked');
  const huge = encode({
    id: 'e3',
    attributes: { blob: Array.from({ length: 120 }, () => 'z'.repeat(8000)) },
  });
  t.throws(() => parseEventMessage(raw(huge), LIMITS), { name: 'LimitsExceededError', message: /bytes/ });
  const longString = encode({ id: 'e4', attributes: { s: 'z'.repeat(9000) } });
  t.throws(() => parseEventMessage(raw(longString), LIMITS), { message: /attributes\.s: string longer/ });
  const hostile = new Uint8Array([
    0x81,
    0xaa,
    ...new TextEncoder().encode('attributes'),
    ...deepMsgpack(5000),
  ]);
  t.throws(() => parseEventMessage(raw(hostile), LIMITS), LimitsExceededError, 'hostile depth');
});
