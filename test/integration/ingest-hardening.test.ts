/**
 * Events that reach EVENTS without the HTTP ingest (a direct NATS publish) are held to the same limits, and
 * nothing a producer publishes can stop a partition or suppress another tenant's event. Real nats-server,
 * actors and ingest in one process.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import t from 'tap';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import { partitionFor } from '../../src/nats/server-config.js';
import { ACME_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  captureLogger,
  connect,
  readState,
  startParley,
  streamCount,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 4;
const SECRET = 'dedupe-secret-for-the-hardening-test';
const nats = await startTestNats(t, { partitions: PARTITIONS });
const auth = httpTestConfig();
const { log, lines } = captureLogger();
const parley = await startParley(
  t,
  testConfig(t, nats.url, PARTITIONS, {
    tenants: auth.tenants,
    admin: auth.admin,
    runtime: { dedupe: { secret: SECRET } },
  }),
  log,
);
const base = parley.ingest!.url;
const h = await connect(t, nats.url);

interface DeadLetter {
  reason: string;
  error: string;
  source: { seq: number; subject: string };
}

async function deadLetters(tenant = 'acme'): Promise<DeadLetter[]> {
  const n = await streamCount(h, 'DLQ', `dlq.events.${tenant}`);
  const out: DeadLetter[] = [];
  const info = await h.jsm.streams.info('DLQ');
  for (let seq = info.state.first_seq; n > 0 && seq <= info.state.last_seq; seq++) {
    const m = await h.jsm.streams.getMessage('DLQ', { seq }).catch(() => undefined);
    if (m?.subject === `dlq.events.${tenant}`) out.push(decodeMsgpack(m.data) as DeadLetter);
  }
  return out;
}

/** A conversation in partition `p` (so a test can show that partition keeps going). */
function conversationIn(p: number, prefix: string): string {
  for (let i = 0; ; i++) if (partitionFor('acme', `${prefix}${i}`, PARTITIONS) === p) return `${prefix}${i}`;
}

/** msgpack body `{ id, attributes: <depth nested maps> }`, written by hand: no encoder can make it. */
function deepBody(id: string, depth: number): Uint8Array {
  const idBytes = Buffer.from(id);
  const head = [
    0x82,
    0xa2,
    0x69,
    0x64,
    0xa0 | idBytes.length,
    ...idBytes,
    0xaa,
    ...Buffer.from('attributes'),
  ];
  const out = new Uint8Array(head.length + depth * 3 + 1);
  out.set(head);
  for (let i = 0; i < depth; i++) out.set([0x81, 0xa1, 0x61], head.length + i * 3);
  out[out.length - 1] = 0xc0;
  return out;
}

const publishRaw = (subject: string, data: Uint8Array, msgId?: string) =>
  h.js.publish(subject, data, msgId ? { msgID: msgId } : {});

async function stateSeq(conversation: string, seq: number) {
  return waitFor(`seq ${seq} handled for ${conversation}`, async () => {
    const s = await readState(h, 'acme', conversation);
    return s && s.seq >= seq ? s : undefined;
  });
}

t.test(
  'ingest-hardening - deep and oversized NATS events are dead-lettered; the partition goes on',
  async (t) => {
    const bad = conversationIn(1, 'bad');
    const other = conversationIn(1, 'other');
    const deep = await publishRaw(`ingest.acme.${bad}.message.received`, deepBody('deep-1', 5000));
    const big = await publishRaw(
      `ingest.acme.${bad}.message.received`,
      // 900 KB of attributes in strings each within the string limit: only the size limit refuses it.
      encode({ id: 'big-1', attributes: { blob: Array.from({ length: 115 }, () => 'x'.repeat(8000)) } }),
    );
    const after = await publishRaw(`ingest.acme.${bad}.message.received`, encode({ id: 'after-1' }));
    const neighbour = await publishRaw(`ingest.acme.${other}.message.received`, encode({ id: 'n-1' }));

    const s = await stateSeq(bad, after.seq);
    t.equal(s.state.events, 1, 'only the valid event applied to the conversation');
    t.equal(s.state.last?.id, 'after-1');
    t.equal(
      (await stateSeq(other, neighbour.seq)).state.events,
      1,
      'the same partition processes the next events',
    );

    const dl = await waitFor('two dead letters', async () => {
      const d = await deadLetters();
      return d.length >= 2 ? d : undefined;
    });
    t.match(
      dl.find((d) => d.source.seq === deep.seq),
      { reason: 'limits-exceeded', error: /nested/ },
    );
    t.match(
      dl.find((d) => d.source.seq === big.seq),
      { reason: 'limits-exceeded', error: /bytes as JSON/ },
    );
    t.notOk(
      lines.some((l) => /fenced/.test(String(l.msg))),
      'no partition was fenced',
    );
    t.equal(parley.actors!.status().partitions.length, PARTITIONS, 'every partition still running');
  },
);

t.test('ingest-hardening - a non-ASCII subject token is dead-lettered, not retried forever', async (t) => {
  const m = await publishRaw('ingest.acme.café.message.received', encode({ id: 'accent-1' }));
  const dl = await waitFor('the dead letter', async () =>
    (await deadLetters()).find((d) => d.source.seq === m.seq),
  );
  t.match(dl, { reason: 'invalid-subject', error: /café/ });
  t.match(dl.source.subject, /^evt\.\d+\.acme\.café\.message\.received$/);
  // Its partition's ack floor moved on: an event after it in the same partition is applied.
  const p = Number(dl.source.subject.split('.')[1]);
  const next = conversationIn(p, 'afteraccent');
  const after = await publishRaw(`ingest.acme.${next}.message.received`, encode({ id: 'next-1' }));
  await stateSeq(next, after.seq);
  const consumer = await h.jsm.consumers
    .info('EVENTS', `actors-p${String(p).padStart(2, '0')}`)
    .catch(() => undefined);
  if (consumer) t.ok(consumer.ack_floor.stream_seq >= m.seq, 'acked: the ack floor is past it');
});

async function post(event: Record<string, unknown>) {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ACME_TOKEN}` },
    body: JSON.stringify({ type: 'message.received', occurredAt: '2026-01-01T00:00:00Z', ...event }),
  });
  t.equal(res.status, 202);
  return ((await res.json()) as { results: Array<{ seq: number; duplicate: boolean }> }).results[0]!;
}

t.test('ingest-hardening - another tenant forging the Nats-Msg-Id cannot suppress an event', async (t) => {
  // globex's producer publishes on its own subject, with the header acme's ingest would once have used.
  const hdrs = natsHeaders();
  hdrs.set('Nats-Msg-Id', 'acme:victim-1');
  const forged = await h.js.publish('ingest.globex.x.message.received', encode({ id: 'victim-1' }), {
    headers: hdrs,
    msgID: 'acme:victim-1',
  });
  t.equal(forged.duplicate, false);
  const real = await post({ id: 'victim-1', conversation: 'victim' });
  t.equal(real.duplicate, false, "acme's event is stored: the forged key is not its key");
  t.not(real.seq, forged.seq);
  const stored = await h.jsm.streams.getMessage('EVENTS', { seq: real.seq });
  t.match(stored!.header.get('Nats-Msg-Id'), /^acme:victim-1:[A-Za-z0-9_-]{16}$/, 'keyed with the secret');
  const retry = await post({ id: 'victim-1', conversation: 'victim' });
  t.equal(retry.duplicate, true, 'a retry still dedupes in the stream (the key is deterministic)');
  t.equal(retry.seq, real.seq);
  const s = await stateSeq('victim', real.seq);
  t.equal(s.state.events, 1);
  // A NATS producer of acme reusing the id cannot apply it twice either (the actor's record).
  const again = await publishRaw('ingest.acme.victim.message.received', encode({ id: 'victim-1' }));
  t.equal((await stateSeq('victim', again.seq)).state.events, 1, 'the id was applied once');
});
