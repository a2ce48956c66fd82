/**
 * PartitionDispatcher with an injected clock and an in-process consumer: a conversation whose head action
 * must wait holds only itself, in memory (nothing is nakked for it), and its actions leave in stream order;
 * a lost lease stops sending; a scheduled action is nakked, not held behind.
 */
import t from 'tap';
import type { Disposition } from '../../src/connectors/action-executor.js';
import { createConnectorMetrics } from '../../src/connectors/connector-metrics.js';
import { firstSight, PartitionDispatcher } from '../../src/connectors/partition-dispatcher.js';
import { createLogger } from '../../src/obs/logger.js';
import { createRegistry } from '../../src/obs/metrics.js';
import { InFlightGate } from '../../src/runtime/in-flight.js';
import type { LeaseStatus } from '../../src/runtime/partition-lease.js';
import type { InboundMessage, PartitionConsumer } from '../../src/runtime/ports.js';
import { flush, ManualClock } from '../helpers/fakes.js';

interface Msg extends InboundMessage {
  acked: boolean;
  naks: number[];
}

function msg(seq: number, conversation: string, consumerSeq?: number): Msg {
  return {
    seq,
    ...(consumerSeq === undefined ? {} : { consumerSeq }),
    subject: `act.0.webhook.acme.${conversation}`,
    data: new Uint8Array(),
    timestampMs: 0,
    deliveryCount: 1,
    header: () => undefined,
    acked: false,
    naks: [],
    ack() {
      this.acked = true;
    },
    nak(d?: number) {
      this.naks.push(d ?? 0);
    },
    working() {},
  };
}

function consumerOf(messages: Msg[]): PartitionConsumer {
  return {
    async *messages() {
      for (const m of messages) yield m;
    },
    async stop() {},
  };
}

function dispatcher(
  clock: ManualClock,
  handle: (m: InboundMessage) => Promise<Disposition>,
  ownership: () => LeaseStatus = () => 'owned',
) {
  return new PartitionDispatcher({
    partition: 0,
    handlerFor: () => ({ handle }),
    ownership,
    gate: new InFlightGate(100),
    metrics: createConnectorMetrics(createRegistry()),
    log: createLogger({ level: 'silent' }),
    clock,
    settings: { laneCapacity: 16, ackWaitMs: 30_000 },
  });
}

t.test(
  'partition-dispatcher - a retrying head holds its own conversation, in memory, in order',
  async (t) => {
    const clock = new ManualClock();
    const sent: number[] = [];
    let failures = 2;
    const d = dispatcher(clock, async (m) => {
      if (m.seq === 1 && failures > 0) {
        failures--;
        return { type: 'nak', delayMs: 1000, hold: true };
      }
      sent.push(m.seq);
      return { type: 'ack' };
    });
    // Conversation a: seq 1, 3, 5; conversation b: seq 2, 4, 6.
    const messages = [msg(1, 'a'), msg(2, 'b'), msg(3, 'a'), msg(4, 'b'), msg(5, 'a'), msg(6, 'b')];
    d.start(consumerOf(messages));
    await flush();
    t.same(sent, [2, 4, 6], 'the other conversation went on while a waited');
    await clock.advance(1000);
    t.same(sent, [2, 4, 6], 'one retry later a is still held');
    await clock.advance(1000);
    t.same(sent, [2, 4, 6, 1, 3, 5], 'then a left in stream order');
    t.ok(
      messages.every((m) => m.acked && m.naks.length === 0),
      'everything acked, nothing nakked: no order rests on redelivery',
    );
    t.equal(d.held, 0);
  },
);

t.test('partition-dispatcher - nothing is sent once the lease is lost; unsure waits', async (t) => {
  const clock = new ManualClock();
  let status: LeaseStatus = 'unsure';
  const sent: number[] = [];
  const d = dispatcher(
    clock,
    async (m) => {
      sent.push(m.seq);
      return { type: 'ack' };
    },
    () => status,
  );
  const messages = [msg(1, 'a'), msg(2, 'a')];
  d.start(consumerOf(messages));
  await flush();
  await clock.advance(200);
  t.same(sent, [], 'unsure: waiting for a renewal');
  status = 'lost';
  await clock.advance(200);
  t.same(sent, [], 'lost: never sent');
  t.ok(
    messages.every((m) => !m.acked && m.naks.length === 0),
    'left unacked for the next owner',
  );
});

t.test('partition-dispatcher - a scheduled action is nakked until due, not held behind', async (t) => {
  const clock = new ManualClock();
  const sent: number[] = [];
  const d = dispatcher(clock, async (m) => {
    if (m.seq === 1) return { type: 'nak', delayMs: 60_000, hold: false };
    sent.push(m.seq);
    return { type: 'ack' };
  });
  const messages = [msg(1, 'a'), msg(2, 'a')];
  d.start(consumerOf(messages));
  await flush();
  t.same(messages[0]!.naks, [60_000], 'the scheduled action went back until it is due');
  t.same(sent, [2], 'the next one was not held behind it');
});

t.test(
  'partition-dispatcher - a gap in the consumer sequence stops the partition before anything past it',
  async (t) => {
    const clock = new ManualClock();
    const sent: number[] = [];
    const failures: string[] = [];
    const d = new PartitionDispatcher({
      partition: 0,
      handlerFor: () => ({
        handle: async (m) => {
          sent.push(m.seq);
          return { type: 'ack' };
        },
      }),
      ownership: () => 'owned',
      fail: (reason) => failures.push(reason),
      gate: new InFlightGate(100),
      metrics: createConnectorMetrics(createRegistry()),
      log: createLogger({ level: 'silent' }),
      clock,
      settings: { laneCapacity: 16, ackWaitMs: 30_000 },
    });
    // Deliveries 3 and 4 went to another subscriber (a previous owner still pulling).
    d.start(consumerOf([msg(10, 'a', 1), msg(11, 'a', 2), msg(14, 'a', 5)]));
    await flush();
    t.same(sent, [10, 11], 'nothing past the gap was sent');
    t.match(
      failures,
      [/deliveries 3-4 went to another subscriber/],
      'the partition was failed, naming the gap',
    );
  },
);

t.test(
  'dispatcher - first sight: only a first, unrecovered, un-redone, untried, non-redriven delivery',
  async (t) => {
    const msg = (o: { deliveryCount?: number; recovered?: boolean; headers?: Record<string, string> }) =>
      ({
        seq: 1,
        subject: 'act.0.webhook.acme.c1',
        data: new Uint8Array(),
        timestampMs: 0,
        deliveryCount: o.deliveryCount ?? 1,
        recovered: o.recovered ?? false,
        header: (n: string) => o.headers?.[n],
        ack() {},
        nak() {},
        working() {},
      }) as InboundMessage;
    t.ok(firstSight(msg({}), 0), 'a fresh first delivery');
    t.notOk(firstSight(msg({}), 1), 'tried here before');
    t.notOk(firstSight(msg({ deliveryCount: 2 }), 0), 'redelivered');
    t.notOk(firstSight(msg({ recovered: true }), 0), 'in the recovery prefix of the consumer');
    t.notOk(firstSight(msg({ headers: { 'Parley-Recheck': '1' } }), 0), 'decided by a redo');
    t.notOk(firstSight(msg({ headers: { 'Parley-Redrive': '7' } }), 0), 'a redrive');
  },
);
