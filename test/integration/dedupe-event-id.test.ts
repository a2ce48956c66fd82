/**
 * The event id is the idempotency key on every path, past the stream's duplicate window: a real nats-server,
 * actors and ingest in one process, the EVENTS duplicate window shortened to one second.
 */
import { headers as natsHeaders } from '@nats-io/transport-node';
import t from 'tap';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import { ACME_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, readState, startParley, streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
const nats = await startTestNats(t, { partitions: PARTITIONS });
const auth = httpTestConfig();
const parley = await startParley(
  t,
  testConfig(t, nats.url, PARTITIONS, { tenants: auth.tenants, admin: auth.admin }),
);
const base = parley.ingest!.url;
const h = await connect(t, nats.url);
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Publishes a JSON event straight to NATS, as a producer would; no Nats-Msg-Id unless given. */
async function natsPublish(conversation: string, body: Record<string, unknown>, msgId?: string) {
  const hdrs = natsHeaders();
  hdrs.set('Content-Type', 'application/json');
  const type = (body.type as string | undefined) ?? 'message.received';
  const subject = `ingest.acme.${conversation}.${type}`;
  return h.js.publish(subject, json({ occurredAt: '2026-01-01T00:00:00Z', ...body, type: undefined }), {
    headers: hdrs,
    ...(msgId ? { msgID: msgId } : {}),
  });
}

async function post(event: Record<string, unknown>) {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ACME_TOKEN}` },
    body: JSON.stringify({ type: 'message.received', occurredAt: '2026-01-01T00:00:00Z', ...event }),
  });
  t.equal(res.status, 202);
  return ((await res.json()) as { results: Array<{ seq: number; duplicate: boolean }> }).results[0]!;
}

const actionsOf = (conversation: string) => streamCount(h, 'ACTIONS', `act.*.webhook.acme.${conversation}`);

async function applied(conversation: string, events: number) {
  return waitFor(`${events} events applied to ${conversation}`, async () => {
    const s = await readState(h, 'acme', conversation);
    return s && s.state.events >= events ? s : undefined;
  });
}

/** Waits until the conversation's state has moved past `seq` (the event there was handled, however). */
async function handled(conversation: string, seq: number) {
  return waitFor(`seq ${seq} handled for ${conversation}`, async () => {
    const s = await readState(h, 'acme', conversation);
    return s && s.seq >= seq ? s : undefined;
  });
}

t.test('dedupe - the same id published twice on NATS without Nats-Msg-Id: one effect', async (t) => {
  const a = await natsPublish('nohdr', { id: 'n1', attributes: { n: 1 } });
  const b = await natsPublish('nohdr', { id: 'n1', attributes: { n: 1 } });
  t.equal(b.duplicate, false, 'the stream stores both (no header, nothing to dedupe on)');
  t.not(b.seq, a.seq);
  // Same id again with a header of its own choosing: still the same event.
  const c = await natsPublish('nohdr', { id: 'n1', attributes: { n: 1 } }, 'producer-chosen-1');
  const next = await natsPublish('nohdr', { id: 'n2' });
  const s = await handled('nohdr', next.seq);
  t.equal(s.state.events, 2, 'n1 applied once, then n2');
  t.equal(s.state.counts['message.received'], 2);
  t.equal(await actionsOf('nohdr'), 2, 'one action per distinct id');
  await waitFor(
    'two duplicate audits',
    async () => (await streamCount(h, 'AUDIT', 'audit.duplicate.acme.nohdr')) >= 2,
  );
  t.equal(await streamCount(h, 'AUDIT', 'audit.duplicate.acme.nohdr'), 2, 'each repeat audited');
  const audit = await h.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.duplicate.acme.nohdr' });
  t.match(decodeMsgpack(audit!.data), { kind: 'duplicate', eventId: 'n1', sourceSeq: c.seq });
});

/** Shortens the EVENTS duplicate window, then waits (on the stream, not a clock) until it has passed. */
async function pastDuplicateWindow(probe: string) {
  const info = await h.jsm.streams.info('EVENTS');
  if (info.config.duplicate_window !== 1_000_000_000) {
    await h.jsm.streams.update('EVENTS', { ...info.config, duplicate_window: 1_000_000_000 });
  }
  const hdrs = natsHeaders();
  hdrs.set('Content-Type', 'application/json');
  const body = json({ id: probe, occurredAt: '2026-01-01T00:00:00Z' });
  await h.js.publish('ingest.acme.probe.message.received', body, { msgID: probe, headers: hdrs });
  await waitFor(
    'the duplicate window to pass',
    async () =>
      !(await h.js.publish('ingest.acme.probe.message.received', body, { msgID: probe, headers: hdrs }))
        .duplicate,
    10_000,
    200,
  );
}

t.test('dedupe - the same id over HTTP after the duplicate window: one effect', async (t) => {
  const first = await post({ id: 'h1', conversation: 'late', attributes: { text: 'hi' } });
  await applied('late', 1);
  const retry = await post({ id: 'h1', conversation: 'late', attributes: { text: 'hi' } });
  t.equal(retry.duplicate, true, 'within the window the stream answers duplicate');
  t.equal(retry.seq, first.seq);
  await pastDuplicateWindow('probe-http');
  const late = await post({ id: 'h1', conversation: 'late', attributes: { text: 'hi' } });
  t.equal(late.duplicate, false, 'past the window the stream stores it again');
  t.ok(late.seq > first.seq);
  const marker = await post({ id: 'h2', conversation: 'late' });
  const s = await handled('late', marker.seq);
  t.equal(s.state.events, 2, 'the late repeat was not applied');
  t.equal(await actionsOf('late'), 2, 'and sent nothing: one action for h1, one for h2');
});

t.test('dedupe - an action.sent outcome replayed after the window is applied once', async (t) => {
  const outcome = { id: 'acme.out.9.0.sent', type: 'action.sent', attributes: { action: 'acme.out.9.0' } };
  const first = await natsPublish('out', outcome, 'acme.out.9.0.sent');
  await handled('out', first.seq);
  await pastDuplicateWindow('probe-outcome');
  const replay = await natsPublish('out', outcome, 'acme.out.9.0.sent');
  t.equal(replay.duplicate, false, 'the stream no longer remembers it');
  const s = await handled('out', replay.seq);
  t.equal(s.state.counts['action.sent'], 1, 'counted once');
  t.equal(s.state.events, 1);
});

t.test('dedupe - the record is in the stored state (not in the state operators read)', async (t) => {
  const s = await readState(h, 'acme', 'late');
  t.ok(s?.ids instanceof Uint8Array, 'ids beside the state');
  t.equal(s!.ids!.length % 12, 0);
  t.notOk('ids' in (s!.state as object), 'the conversation state itself is unchanged in shape');
  t.same(Object.keys(decodeMsgpack(encode(s)) as object).sort(), ['ids', 'seq', 'state']);
});
