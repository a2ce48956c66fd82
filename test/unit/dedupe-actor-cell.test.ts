import t from 'tap';
import type { ActorKind, TransitionContext } from '../../actors/kind.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { createLogger } from '../../src/obs/logger.js';
import { createRegistry, createRuntimeMetrics } from '../../src/obs/metrics.js';
import {
  ActorCell,
  type ActorHost,
  type ActorSettings,
  type StoredState,
} from '../../src/runtime/actor-cell.js';
import { InFlightGate } from '../../src/runtime/in-flight.js';
import { FakeMessage, flush, ManualClock, MemoryPublisher, MemoryStore } from '../helpers/fakes.js';

interface S {
  seen: string[];
}

const counting: ActorKind<S> = {
  name: 'test',
  initial: () => ({ seen: [] }),
  transition(state, event) {
    return {
      state: { seen: [...state.seen, event.id] },
      effects: [{ type: 'emit', eventType: 'seen', attributes: { id: event.id } }],
    };
  },
};

const T0 = Date.UTC(2026, 0, 1);
const H = 60 * 60 * 1000;

function setup(
  settings: Partial<ActorSettings> = {},
  store = new MemoryStore<StoredState<S>>(),
  conversation = 'c1',
) {
  const publisher = new MemoryPublisher();
  const gate = new InFlightGate(1000);
  const failures: unknown[] = [];
  const metrics = createRuntimeMetrics(createRegistry({ defaultMetrics: false }));
  const host: ActorHost<S, TransitionContext> = {
    partition: 0,
    kind: counting,
    store,
    publisher,
    gate,
    metrics,
    log: createLogger({ level: 'silent' }),
    clock: new ManualClock(),
    settings: {
      mailboxCapacity: 100,
      batchSize: 8,
      maxAttempts: 3,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      ackWaitMs: 30_000,
      ...settings,
    },
    ownership: () => 'owned',
    context: (seq, now) => ({ seq, now }),
    actorFailed: (_key, err) => failures.push(err),
  };
  const cell = new ActorCell<S>(host, 'acme', conversation);
  const send = (m: FakeMessage) => {
    gate.acquire();
    cell.enqueue(m);
    return m;
  };
  return { store, publisher, gate, failures, cell, send, metrics };
}

function msg(seq: number, id: string, at = T0, extra: Partial<EventEnvelope> = {}, conversation = 'c1') {
  const e = { id, occurredAt: '2026-01-01T00:00:00Z', attributes: {}, ...extra };
  return new FakeMessage(seq, `evt.0.acme.${conversation}.message.received`, encode(e), {}, at);
}

const emits = (p: MemoryPublisher) => p.messages.filter((m) => m.subject.startsWith('ingest.'));
const audits = (p: MemoryPublisher) => p.messages.filter((m) => m.subject.startsWith('audit.'));
const deadLetters = (p: MemoryPublisher) =>
  p.messages
    .filter((m) => m.subject.startsWith('dlq.'))
    .map((m) => decodeMsgpack(m.data) as { reason: string; error: string; source: { seq: number } });

t.test('dedupe-actor-cell - the same id at a new sequence is acked without effect and audited', async (t) => {
  const s = setup();
  const ms = [s.send(msg(1, 'a')), s.send(msg(2, 'b')), s.send(msg(3, 'a', T0 + H))];
  await flush();
  const stored = s.store.data.get('acme.c1')!.value;
  t.same(stored.state.seen, ['a', 'b'], 'the repeat changed nothing');
  t.equal(stored.seq, 3, 'but the sequence moved past it');
  t.equal(emits(s.publisher).length, 2, 'one effect per distinct id');
  const [audit] = audits(s.publisher);
  t.equal(audit?.subject, 'audit.duplicate.acme.c1');
  t.match(decodeMsgpack(audit!.data), {
    kind: 'duplicate',
    eventId: 'a',
    sourceSeq: 3,
    type: 'message.received',
  });
  t.same(
    ms.map((m) => m.acked),
    [1, 1, 1],
  );
  t.equal(s.gate.count, 0);
  const metric = await s.metrics.eventsTotal.get();
  t.equal(metric.values.find((v) => v.labels.outcome === 'duplicate')?.value, 1, 'counted as a duplicate');
});

t.test('dedupe-actor-cell - the record is committed with the state and survives passivation', async (t) => {
  const first = setup();
  first.send(msg(1, 'a'));
  await flush();
  t.ok(first.store.data.get('acme.c1')!.value.ids, 'ids stored in the same value as the state (one CAS)');
  // A new cell (passivated, another process) loads the record with the state.
  const second = setup({}, first.store);
  second.send(msg(5, 'a', T0 + 10 * H));
  second.send(msg(6, 'c', T0 + 10 * H));
  await flush();
  t.same(second.store.data.get('acme.c1')!.value.state.seen, ['a', 'c']);
  t.equal(emits(second.publisher).length, 1, 'the replay of a found no new effect');
});

t.test('dedupe-actor-cell - past the horizon (or beyond maxIds) an id is new again', async (t) => {
  const s = setup({ dedupe: { horizonMs: 2 * H, maxIds: 2 } });
  s.send(msg(1, 'a'));
  s.send(msg(2, 'a', T0 + 3 * H)); // past the horizon: applied again
  s.send(msg(3, 'b', T0 + 3 * H));
  s.send(msg(4, 'c', T0 + 3 * H)); // the record holds b and c now
  s.send(msg(5, 'a', T0 + 3 * H)); // evicted by count: applied again
  s.send(msg(6, 'c', T0 + 3 * H)); // still remembered
  await flush();
  t.same(s.store.data.get('acme.c1')!.value.state.seen, ['a', 'a', 'b', 'c', 'a']);
  t.equal(audits(s.publisher).length, 1);
});

t.test('dedupe-actor-cell - dead-lettered events are not remembered (a redrive still applies)', async (t) => {
  const s = setup();
  s.send(msg(1, 'big', T0, { attributes: { s: 'x'.repeat(9000) } }));
  s.send(msg(2, 'big'));
  await flush();
  t.same(s.store.data.get('acme.c1')!.value.state.seen, ['big'], 'the valid event with that id applies');
  t.match(deadLetters(s.publisher), [{ reason: 'limits-exceeded', error: /attributes\.s: string longer/ }]);
});

t.test(
  'dedupe-actor-cell - deep and oversized events are dead-lettered; the next event goes on',
  async (t) => {
    const s = setup();
    const deep = new Uint8Array(5000 * 3 + 1);
    for (let i = 0; i < 5000; i++) deep.set([0x81, 0xa1, 0x61], i * 3);
    deep[5000 * 3] = 0xc0;
    const body = new Uint8Array([
      0x82,
      0xa2,
      0x69,
      0x64,
      0xa1,
      0x64,
      0xaa,
      ...Buffer.from('attributes'),
      ...deep,
    ]);
    s.send(new FakeMessage(1, 'evt.0.acme.c1.message.received', body, {}, T0));
    s.send(msg(2, 'huge', T0, { attributes: { blob: Array.from({ length: 120 }, () => 'z'.repeat(8000)) } }));
    const next = s.send(msg(3, 'next'));
    await flush();
    t.equal(s.failures.length, 0, 'the actor (and so the partition) did not fail');
    t.match(deadLetters(s.publisher), [
      { reason: 'limits-exceeded', error: /nested/, source: { seq: 1 } },
      { reason: 'limits-exceeded', error: /bytes/, source: { seq: 2 } },
    ]);
    t.equal(next.acked, 1);
    t.same(s.store.data.get('acme.c1')!.value.state.seen, ['next']);
  },
);

t.test(
  'dedupe-actor-cell - a conversation that is no subject token is dead-lettered, no state',
  async (t) => {
    const s = setup({}, undefined, 'café');
    const ms = [s.send(msg(1, 'x', T0, {}, 'café')), s.send(msg(2, 'y', T0, {}, 'café'))];
    await flush();
    t.equal(s.failures.length, 0);
    t.equal(s.store.data.size, 0, 'nothing written under an invalid key');
    t.match(deadLetters(s.publisher), [
      { reason: 'invalid-subject', source: { seq: 1 } },
      { reason: 'invalid-subject', source: { seq: 2 } },
    ]);
    t.same(
      ms.map((m) => m.acked),
      [1, 1],
      'acked: the ack floor moves on',
    );
    t.equal(s.gate.count, 0);
  },
);

t.test(
  'dedupe-actor-cell - an event without any id is not remembered (its seq-<n> id is unique)',
  async (t) => {
    const s = setup();
    const noId = new FakeMessage(1, 'evt.0.acme.c1.message.received', encode({ attributes: {} }), {}, T0);
    s.send(noId);
    s.send(msg(2, 'seq-1')); // a producer id that happens to look like it: a different event
    await flush();
    t.same(s.store.data.get('acme.c1')!.value.state.seen, ['seq-1', 'seq-1'], 'both applied');
    t.equal(s.store.data.get('acme.c1')!.value.ids?.length, 12, 'only the real id remembered');
  },
);
