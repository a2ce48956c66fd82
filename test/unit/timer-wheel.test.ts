import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import { createLogger } from '../../src/obs/logger.js';
import type { OutboundMessage } from '../../src/runtime/ports.js';
import { type TimerIndex, TimerWheel } from '../../src/runtime/timer-wheel.js';

function setup(fail = 0) {
  let now = 1_000_000;
  const index = new Map<string, number>();
  const published: OutboundMessage[] = [];
  let failures = fail;
  const store: TimerIndex = {
    put: async (p, k, at) => void index.set(`p${p}.${k}`, at),
    remove: async (p, k) => void index.delete(`p${p}.${k}`),
    list: async (p) =>
      [...index]
        .filter(([k]) => k.startsWith(`p${p}.`))
        .map(([k, at]) => ({ key: k.slice(`p${p}.`.length), at })),
  };
  let owned = true;
  const wheel = new TimerWheel({
    index: store,
    publisher: {
      publish: async (m) => {
        if (failures-- > 0) throw new Error('no responders');
        published.push(m);
        return { seq: published.length, duplicate: false };
      },
    },
    clock: { now: () => now, sleep: async () => {} },
    log: createLogger({ level: 'silent' }),
  });
  return {
    wheel,
    index,
    published,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    setOwned: (v: boolean) => {
      owned = v;
    },
    owned: () => owned,
  };
}

t.test(
  'timer wheel - wake-ups are indexed, rebuilt on acquisition and published once when due',
  async (t) => {
    const a = setup();
    const s = a.wheel.forPartition(7, a.owned);
    await s.record('acme.c1', a.now() + 500);
    s.scheduled('acme.c1', a.now() + 500);
    t.same([...a.index.keys()], ['p7.acme.c1'], 'keys prefixed by partition');
    t.equal(await a.wheel.tick(), 0, 'not due yet');
    a.advance(500);
    t.equal(await a.wheel.tick(), 1);
    const body = decodeMsgpack(a.published[0]!.data) as { type: string; attributes: { due: number } };
    t.equal(a.published[0]!.subject, 'ingest.acme.c1.timer.wake');
    t.equal(a.published[0]!.msgId, `wake.acme.c1.${a.now()}`, 'deterministic id: conversation and due time');
    t.equal(body.attributes.due, a.now());
    t.equal(await a.wheel.tick(), 0, 'published once');

    // A new owner (a restart) rebuilds from the index; the due entry fires once after it.
    const b = setup();
    for (const [k, v] of a.index) b.index.set(k, v);
    b.wheel.forPartition(7, b.owned);
    t.equal(await b.wheel.load(7), 1);
    b.advance(10_000);
    t.equal(await b.wheel.tick(), 1);
    t.equal(b.published[0]!.msgId, a.published[0]!.msgId, 'the same id: lands in the duplicate window');
  },
);

t.test('timer wheel - only owned partitions fire; failed publishes are retried, not dropped', async (t) => {
  const a = setup(2);
  const s = a.wheel.forPartition(1, a.owned);
  s.scheduled('acme.c2', a.now());
  t.equal(await a.wheel.tick(), 0, 'first publish failed');
  a.advance(10_000);
  await a.wheel.tick();
  a.advance(10_000);
  t.equal(await a.wheel.tick(), 1, 'retried until it went out');
  t.equal(
    (decodeMsgpack(a.published[0]!.data) as { attributes: { due: number } }).attributes.due,
    1_000_000,
    'with its original due time',
  );

  const b = setup();
  const sb = b.wheel.forPartition(2, b.owned);
  sb.scheduled('acme.c3', b.now());
  b.setOwned(false);
  t.equal(await b.wheel.tick(), 0, 'not owned: nothing published');
  sb.scheduled('acme.c4', b.now());
  b.wheel.drop(2);
  b.setOwned(true);
  t.equal(await b.wheel.tick(), 0, 'dropped partitions are forgotten');
  sb.scheduled('acme.c5', b.now() + 5);
  sb.scheduled('acme.c5', null);
  b.advance(10);
  t.equal(await b.wheel.tick(), 0, 'a cleared wake-up does not fire');
});
