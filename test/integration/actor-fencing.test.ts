/**
 * Fencing: a second runtime claiming the same partitions takes them over; the first stops with a clear
 * log line and nothing is applied twice. A foreign write to a conversation's state (a CAS conflict) stops
 * the partition too.
 */
import t from 'tap';
import { digestOf } from '../../actors/conversation/state.js';
import { encode } from '../../src/envelope/codec.js';
import { STATE_BUCKET } from '../../src/main.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  captureLogger,
  connect,
  event,
  publishEvents,
  readState,
  startParley,
  streamCount,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 2;

t.test(
  'runtime - two runtimes claiming the same partitions: the first is fenced, nothing double-applied',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const h = await connect(t, nats.url);
    const a = captureLogger();
    const first = await startParley(
      t,
      testConfig(t, nats.url, PARTITIONS, { runtime: { partitions: 'all' } }),
      a.log,
    );
    const ids = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => event('acme', 'f1', from + i));

    await publishEvents(h, ids(0, 20));
    await waitFor(
      'first batch applied',
      async () => ((await readState(h, 'acme', 'f1'))?.state.events ?? 0) >= 20,
    );

    const b = captureLogger();
    const second = await startParley(
      t,
      testConfig(t, nats.url, PARTITIONS, { runtime: { partitions: 'all' } }),
      b.log,
    );
    await waitFor('the first runtime is fenced on every partition', async () =>
      first.actors!.status().partitions.every((p) => p.state === 'fenced'),
    );
    const fencedLines = a.lines.filter((l) => l.level === 'error' && /fenced/.test(String(l.msg)));
    t.equal(fencedLines.length, PARTITIONS, 'one clear error line per partition');
    t.match(String(fencedLines[0]!.msg), /taken over by/, 'the log says who took it');
    t.ok(
      second.actors!.status().partitions.every((p) => p.state === 'running'),
      'the second runtime runs them',
    );

    await publishEvents(h, ids(20, 60));
    const stored = await waitFor('all events applied', async () => {
      const s = await readState(h, 'acme', 'f1');
      return s && s.state.events >= 60 ? s : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    const final = await readState(h, 'acme', 'f1');
    t.equal(final!.state.events, 60, 'each event applied once');
    t.equal(stored.state.digest, digestOf(ids(0, 60).map((e) => e.id)), 'in order');
    t.equal(await streamCount(h, 'ACTIONS'), 60, 'no duplicate action');
  },
);

t.test(
  'runtime - a foreign write to a conversation state (CAS conflict) stops the partition with a clear log',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 1 });
    const h = await connect(t, nats.url);
    const a = captureLogger();
    const parley = await startParley(
      t,
      testConfig(t, nats.url, 1, { runtime: { partitions: 'all' } }),
      a.log,
    );

    await publishEvents(h, [event('acme', 'cas', 0)]);
    const before = await waitFor('first event applied', async () => readState(h, 'acme', 'cas'));
    // Another writer (an impostor owner) bumps the revision under the actor's cached one.
    const kv = await h.kvm.open(STATE_BUCKET);
    await kv.put('acme.cas', encode(before));
    await publishEvents(h, [event('acme', 'cas', 1)]);

    await waitFor('partition fenced', async () => parley.actors!.status().partitions[0]!.state === 'fenced');
    const line = a.lines.find((l) => l.level === 'error' && /fenced/.test(String(l.msg)));
    t.match(
      String(line?.msg),
      /state changed under this process.*another owner exists/,
      'the log explains the conflict',
    );
    const after = await readState(h, 'acme', 'cas');
    t.equal(after!.state.events, 1, 'the second event was not applied by the fenced partition');
    const info = await h.jsm.consumers.info('EVENTS', 'actors-p00');
    t.equal(info.num_ack_pending, 1, 'and not acked: it stays for the rightful owner');
  },
);
