import t from 'tap';
import type { ActorKind, TransitionContext } from '../../actors/kind.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { createLogger } from '../../src/obs/logger.js';
import { createRegistry, createRuntimeMetrics } from '../../src/obs/metrics.js';
import { ActorCell, type ActorHost, type StoredState } from '../../src/runtime/actor-cell.js';
import { InFlightGate } from '../../src/runtime/in-flight.js';
import type { LeaseStatus } from '../../src/runtime/partition-lease.js';
import { FakeMessage, flush, ManualClock, MemoryPublisher, MemoryStore } from '../helpers/fakes.js';

interface S {
  seen: string[];
}

function kind(fail: (e: EventEnvelope) => boolean = () => false): ActorKind<S> {
  return {
    name: 'test',
    initial: () => ({ seen: [] }),
    transition(state, event) {
      if (fail(event)) throw new Error(`cannot handle ${event.id}`);
      return {
        state: { seen: [...state.seen, event.id] },
        effects: [{ type: 'emit', eventType: 'seen', attributes: { id: event.id } }],
      };
    },
  };
}

function setup(k: ActorKind<S>, mailboxCapacity = 100) {
  const clock = new ManualClock();
  const store = new MemoryStore<StoredState<S>>();
  const publisher = new MemoryPublisher();
  const gate = new InFlightGate(1000);
  const failures: unknown[] = [];
  let ownership: LeaseStatus = 'owned';
  const host: ActorHost<S, TransitionContext> = {
    partition: 0,
    kind: k,
    store,
    publisher,
    gate,
    metrics: createRuntimeMetrics(createRegistry({ defaultMetrics: false })),
    log: createLogger({ level: 'silent' }),
    clock,
    settings: {
      mailboxCapacity,
      batchSize: 8,
      maxAttempts: 3,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      ackWaitMs: 30_000,
    },
    ownership: () => ownership,
    context: (seq, now) => ({ seq, now }),
    actorFailed: (_key, err) => failures.push(err),
  };
  const cell = new ActorCell<S>(host, 'acme', 'c1');
  return { clock, store, publisher, gate, failures, cell, setOwnership: (s: LeaseStatus) => (ownership = s) };
}

function msg(seq: number, id: string, body?: Uint8Array): FakeMessage {
  const e: EventEnvelope = {
    schema: 1,
    id,
    type: 'message.received',
    tenant: 'acme',
    conversation: 'c1',
    occurredAt: '2026-01-01T00:00:00Z',
    attributes: {},
  };
  return new FakeMessage(seq, 'evt.0.acme.c1.message.received', body ?? encode(e));
}

function enqueue(s: ReturnType<typeof setup>, m: FakeMessage) {
  s.gate.acquire();
  return s.cell.enqueue(m);
}

t.test(
  'actor-cell - folds a batch in order, publishes effects with deterministic IDs, commits once, acks all',
  async (t) => {
    const s = setup(kind());
    const msgs = [msg(5, 'a'), msg(9, 'b'), msg(12, 'c')];
    for (const m of msgs) enqueue(s, m);
    await flush();
    const stored = s.store.data.get('acme.c1')!;
    t.same(
      { seq: stored.value.seq, state: stored.value.state },
      { seq: 12, state: { seen: ['a', 'b', 'c'] } },
    );
    t.equal(stored.value.ids?.length, 3 * 12, 'the three applied ids are remembered with the state');
    t.same(
      s.publisher.messages.map((m) => m.msgId),
      ['acme.c1.5.0', 'acme.c1.9.0', 'acme.c1.12.0'],
    );
    t.same(
      msgs.map((m) => m.acked),
      [1, 1, 1],
    );
    t.equal(s.gate.count, 0, 'every in-flight slot released');
  },
);

t.test('actor-cell - an event at or below the stored sequence is acked without effect', async (t) => {
  const s = setup(kind());
  s.store.foreignWrite('acme.c1', { seq: 9, state: { seen: ['a', 'b'] } });
  const msgs = [msg(5, 'a'), msg(9, 'b'), msg(12, 'c')];
  for (const m of msgs) enqueue(s, m);
  await flush();
  t.same(s.store.data.get('acme.c1')!.value.state.seen, ['a', 'b', 'c']);
  t.equal(s.publisher.messages.length, 1, 'only the new event produced an effect');
  t.same(
    msgs.map((m) => m.acked),
    [1, 1, 1],
  );
});

t.test(
  'actor-cell - a failing transition retries with backoff, then dead-letters and moves on',
  async (t) => {
    const s = setup(kind((e) => e.id === 'bad'));
    const msgs = [msg(1, 'ok1'), msg(2, 'bad'), msg(3, 'ok2')];
    for (const m of msgs) enqueue(s, m);
    await flush();
    t.same(
      s.store.data.get('acme.c1')!.value.state.seen,
      ['ok1'],
      'the event before the failure is committed',
    );
    t.equal(msgs[1]!.acked, 0, 'the failing event is held');
    t.equal(msgs[2]!.acked, 0, 'and so is everything after it in the conversation');
    await s.clock.advance(2000);
    await s.clock.advance(2000);
    const stored = s.store.data.get('acme.c1')!.value;
    t.same(stored.state.seen, ['ok1', 'ok2'], 'after maxAttempts the conversation moves on');
    t.equal(stored.seq, 3);
    const dlq = s.publisher.messages.find((m) => m.subject === 'dlq.events.acme')!;
    t.ok(dlq, 'dead-lettered');
    const body = decodeMsgpack(dlq.data) as { reason: string; error: string; attempts: number };
    t.equal(body.reason, 'processing-failed');
    t.equal(body.attempts, 3);
    t.match(body.error, /cannot handle bad/);
    t.same(
      msgs.map((m) => m.acked),
      [1, 1, 1],
    );
  },
);

t.test('actor-cell - an undecodable body is dead-lettered at once', async (t) => {
  const s = setup(kind());
  enqueue(s, msg(1, 'x', new Uint8Array([0xc1])));
  enqueue(s, msg(2, 'y'));
  await flush();
  const { seq, state } = s.store.data.get('acme.c1')!.value;
  t.same({ seq, state }, { seq: 2, state: { seen: ['y'] } });
  t.equal(s.publisher.messages[0]!.msgId, 'dlq.events.1');
});

t.test(
  'actor-cell - transient commit failures retry in place; the ambiguous write is recognised',
  async (t) => {
    const s = setup(kind());
    s.publisher.failNext = 1;
    s.store.failAfterWrite = 1;
    const m = msg(1, 'a');
    enqueue(s, m);
    await flush();
    t.equal(m.acked, 0, 'not acked while failing');
    await s.clock.advance(5000);
    await s.clock.advance(5000);
    t.equal(m.acked, 1);
    t.same(s.store.data.get('acme.c1')!.value.state.seen, ['a']);
    t.equal(s.publisher.messages.length, 1, 'the retried publish is not duplicated');
    t.equal(s.failures.length, 0, 'the landed write is recognised as ours, not as another owner');
    const m2 = msg(2, 'b');
    enqueue(s, m2);
    await flush();
    t.equal(m2.acked, 1, 'and the cached revision is right for the next commit');
  },
);

t.test('actor-cell - a CAS conflict (another writer) fails the actor without acking', async (t) => {
  const s = setup(kind());
  const m1 = msg(1, 'a');
  enqueue(s, m1);
  await flush();
  s.store.foreignWrite('acme.c1', { seq: 1, state: { seen: ['a'] } });
  const m2 = msg(2, 'b');
  enqueue(s, m2);
  await flush();
  t.equal(m2.acked, 0);
  t.equal(s.failures.length, 1);
  t.match(String(s.failures[0]), /another owner exists/);
  t.equal(s.gate.count, 0, 'its slot is released');
});

t.test('actor-cell - commits wait while ownership is unsure and stop when it is lost', async (t) => {
  const s = setup(kind());
  s.setOwnership('unsure');
  const m = msg(1, 'a');
  enqueue(s, m);
  await flush();
  t.equal(m.acked, 0, 'held while unsure');
  s.setOwnership('owned');
  await s.clock.advance(20);
  t.equal(m.acked, 1, 'committed once ownership is confirmed');
  s.setOwnership('lost');
  const m2 = msg(2, 'b');
  enqueue(s, m2);
  await flush();
  t.equal(m2.acked, 0);
  t.equal(s.failures.length, 1);
});

t.test('actor-cell - a full mailbox makes the producer wait instead of growing', async (t) => {
  const s = setup(kind(), 2);
  s.store.failNext = 1; // hold the first batch so the mailbox fills
  const results = [1, 2, 3, 4].map((n) => enqueue(s, msg(n, `e${n}`)));
  t.equal(results[0], undefined);
  t.ok(
    results.slice(1).some((r) => r instanceof Promise),
    'a later enqueue returns a promise to wait on',
  );
  await flush();
  await s.clock.advance(5000);
  await Promise.all(results);
  await flush();
  t.same(s.store.data.get('acme.c1')!.value.state.seen, ['e1', 'e2', 'e3', 'e4'], 'order kept');
});

t.test('actor-cell - actions decided by a redo carry the recheck header', async (t) => {
  const actionKind: ActorKind<S> = {
    name: 'test',
    initial: () => ({ seen: [] }),
    transition(state, event) {
      return {
        state: { seen: [...state.seen, event.id] },
        effects: [{ type: 'action', channel: 'webhook', rule: 'r', template: 't', variables: {} }],
      };
    },
  };
  const s = setup(actionKind);
  const fresh = msg(5, 'a');
  const redelivered = msg(6, 'b');
  redelivered.deliveryCount = 2;
  const recovered = msg(7, 'c');
  recovered.recovered = true;
  for (const m of [fresh, redelivered, recovered]) enqueue(s, m);
  await flush();
  t.same(
    s.publisher.messages.map((m) => [m.msgId, m.headers['Parley-Recheck'] ?? null]),
    [
      ['acme.c1.5.0', null],
      ['acme.c1.6.0', '1'],
      ['acme.c1.7.0', '1'],
    ],
    'first sight unmarked; redelivered and recovered marked',
  );

  const retried = setup(actionKind);
  retried.publisher.failNext = 1;
  enqueue(retried, msg(5, 'a'));
  await flush();
  for (let i = 0; i < 20 && retried.store.data.size === 0; i++) {
    retried.clock.advance(1_000);
    await flush();
  }
  const copies = retried.publisher.messages.filter((m) => m.msgId === 'acme.c1.5.0');
  t.ok(copies.length >= 1, 'published after the retry');
  t.equal(copies.at(-1)!.headers['Parley-Recheck'], '1', 'a retried publish is a redo');
});
