import { fileURLToPath } from 'node:url';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import t from 'tap';
import { loadDefinitions, toStreamConfig } from '../../src/nats/definitions.js';
import { partitionFor } from '../../src/nats/server-config.js';
import { startTestNats } from '../helpers/nats-server.js';

const PARTITIONS = 8;

// One server for the file (port -1, temporary store), EVENTS created from streams/EVENTS.json.
const nats = await startTestNats(t, { partitions: PARTITIONS });
const nc: NatsConnection = await connect({ servers: nats.url });
t.teardown(() => nc.close());
const jsm: JetStreamManager = await jetstreamManager(nc);
const js: JetStreamClient = jetstream(nc);
const events = loadDefinitions(fileURLToPath(new URL('../../streams', import.meta.url))).streams.find(
  (s) => s.config.name === 'EVENTS',
);
if (!events) throw new Error('streams/EVENTS.json is missing');
await jsm.streams.add(toStreamConfig(events.config));
const n = nats.partitions;

const subjectOf = async (seq: number) => (await jsm.streams.getMessage('EVENTS', { seq }))?.subject;
const tokens = (subject: string | undefined) => (subject ?? '').split('.');

t.test('partition-mapping - a multi-token type is kept whole', async (t) => {
  const ack = await js.publish('ingest.acme.c1.message.received', 'hello');
  t.equal(ack.stream, 'EVENTS');
  const subject = await subjectOf(ack.seq);
  const [evt, partition, ...rest] = tokens(subject);
  t.equal(evt, 'evt');
  t.match(partition ?? '', /^\d+$/);
  t.ok(Number(partition) < n, `partition ${partition} is below ${n}`);
  t.same(rest, ['acme', 'c1', 'message', 'received'], subject ?? 'no message');
  t.equal(Number(partition), partitionFor('acme', 'c1', n), 'partitionFor agrees with the server');

  const deep = await js.publish('ingest.acme.c1.a.b.c.d', '');
  t.same(tokens(await subjectOf(deep.seq)).slice(2), ['acme', 'c1', 'a', 'b', 'c', 'd']);

  // `>` needs at least one token: without a type nothing maps, nothing stores it, and the publish fails
  // (no responders; nats.js 3.4 words it "jetstream is not enabled").
  await t.rejects(js.publish('ingest.acme.c1', ''), 'an ingest subject without a type is not accepted');
});

t.test('partition-mapping - one conversation always maps to one partition', async (t) => {
  const types = ['message.received', 'message.sent', 'purchase.completed', 'reply', 'profile.updated'];
  const partitions = new Set<string>();
  for (let round = 0; round < 3; round++) {
    for (const type of types) {
      const ack = await js.publish(`ingest.acme.conv-42.${type}`, '');
      partitions.add(tokens(await subjectOf(ack.seq))[1]!);
    }
  }
  t.equal(partitions.size, 1, `every event of conv-42 went to partition ${[...partitions].join(',')}`);
  const other = await js.publish('ingest.globex.conv-42.message.received', '');
  t.equal(
    Number(tokens(await subjectOf(other.seq))[1]),
    partitionFor('globex', 'conv-42', n),
    'the tenant is part of the key',
  );
});

t.test('partition-mapping - 200 conversations spread over most partitions', async (t) => {
  const counts = new Map<number, number>();
  const acks = await Promise.all(
    Array.from({ length: 200 }, (_, i) => js.publish(`ingest.acme.spread-${i}.message.received`, '')),
  );
  for (const [i, ack] of acks.entries()) {
    const partition = Number(tokens(await subjectOf(ack.seq))[1]);
    t.equal(partition, partitionFor('acme', `spread-${i}`, n), `spread-${i}`);
    counts.set(partition, (counts.get(partition) ?? 0) + 1);
  }
  t.ok(counts.size > n / 2, `used ${counts.size} of ${n} partitions`);
  t.ok([...counts.keys()].every((p) => p >= 0 && p < n));
});
