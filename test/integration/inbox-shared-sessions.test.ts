/**
 * The inbox across processes, on a real nats-server with the project's per-role NATS users: two ingest
 * processes (as a load balancer would spread an operator's requests) and the actors. A session signed in on
 * one is accepted by the other, signing out on either ends it on both (the parley-inbox-sessions bucket);
 * a message's full text is shown only where `http.inbox.fullText` is on (read from EVENTS by the sequence
 * the escalation recorded), the snippet everywhere; and two operators resolving one escalation through
 * different processes: one wins, the other is told who did (409).
 */

import t from 'tap';
import { type Parley, start } from '../../src/main.js';
import { KvSessionBackend } from '../../src/nats/kv-session-backend.js';
import type { NATS_ROLES } from '../../src/nats/permissions.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startRoleUsersNats } from '../helpers/nats-server.js';
import { streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
const TOKENS = { rita: 'inbox-shared-rita-0123456789', ann: 'inbox-shared-ann-0123456789' };
const OPERATORS = [
  { name: 'rita', token: TOKENS.rita, roles: ['reviewer'] },
  { name: 'ann', token: TOKENS.ann, roles: ['reviewer', 'operator'] },
];

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, asserted field by field
type Json = any;

const {
  url: natsUrl,
  passwords: PASSWORDS,
  admin,
} = await startRoleUsersNats(t, {
  partitions: PARTITIONS,
  label: 'inbox-4c2a',
});

const settings = { tenants: httpTestConfig().tenants, operators: OPERATORS };
const configFor = (user: (typeof NATS_ROLES)[number], fullText = false) =>
  testConfig(t, natsUrl, PARTITIONS, {
    nats: { url: natsUrl, user, pass: PASSWORDS[user] },
    http: { host: '127.0.0.1', port: 0, inbox: { fullText } },
    ...settings,
  });
const silent = createLogger({ level: 'silent' });
const actors: Parley = await start(configFor('actors'), { roles: ['actors'], logger: silent, drainMs: 3000 });
t.teardown(() => actors.stop());
const one: Parley = await start(configFor('ingest'), { roles: ['ingest'], logger: silent, drainMs: 3000 });
t.teardown(() => one.stop());
const two: Parley = await start(configFor('ingest', true), {
  roles: ['ingest'],
  logger: silent,
  drainMs: 3000,
});
t.teardown(() => two.stop());
const A = one.ingest!.url;
const B = two.ingest!.url;

interface Session {
  cookie: string;
  csrf: string;
}

async function signIn(base: string, token: string): Promise<Session> {
  const page = await fetch(`${base}/inbox`);
  const pre = /name="pre" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${base}/inbox/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `parley_inbox_pre=${pre}` },
    body: new URLSearchParams({ token, pre }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('parley_inbox='))!
    .split(';')[0]!;
  const app = await (await fetch(`${base}/inbox`, { headers: { cookie } })).text();
  const config = /name="inbox-config" content="([^"]+)"/.exec(app)![1]!.replaceAll('&quot;', '"');
  return { cookie, csrf: (JSON.parse(config) as { csrf: string }).csrf };
}

async function get(base: string, s: Session, path: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, { headers: { cookie: s.cookie } });
  return { status: res.status, body: await res.json() };
}

async function post(base: string, s: Session, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function crisis(conversation: string, text: string, field = 'text'): Promise<string> {
  const sent = await fetch(`${A}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ACME_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `crisis-${conversation}`,
      type: 'message.received',
      conversation,
      occurredAt: new Date().toISOString(),
      attributes: { [field]: text },
    }),
  });
  if (sent.status !== 202) throw new Error(`ingest answered ${sent.status}`);
  const rita = await signIn(A, TOKENS.rita);
  const esc = await waitFor('the escalation', async () => {
    const queue = await get(A, rita, '/inbox/api/queue?tenant=acme');
    return (queue.body.escalations as Json[] | undefined)?.find((e) => e.conversation === conversation);
  });
  return esc.escalationId as string;
}

t.test(
  'inbox-shared-sessions - signed in on one process, accepted by the other; sign-out on either ends both',
  async (t) => {
    const s = await signIn(A, TOKENS.rita);
    t.equal((await get(A, s, '/inbox/api/queue')).status, 200, 'the process it signed in on');
    t.equal((await get(B, s, '/inbox/api/queue')).status, 200, 'another process (no sticky sessions needed)');
    const kv = await admin.kvm.open('parley-inbox-sessions');
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    const id = s.cookie.split('=')[1]!;
    t.ok(keys.length >= 1, 'the session is in the bucket');
    t.notOk(keys.includes(id), 'keyed by a hash, not by the cookie value');

    const out = await fetch(`${B}/inbox/sign-out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=${s.csrf}`,
    });
    t.equal(out.status, 303, 'signed out on the other process');
    t.equal((await get(A, s, '/inbox/api/queue')).status, 401, 'refused where it signed in');
    t.equal((await get(B, s, '/inbox/api/queue')).status, 401);
  },
);

t.test('inbox-shared-sessions - the full text only where configured, read from EVENTS', async (t) => {
  const text = 'i cannot do this anymore, i want to kill myself tonight, please do not tell my mother';
  const id = await crisis('fan-text', text);
  const rita = await signIn(A, TOKENS.rita);
  const plain = await get(A, rita, `/inbox/api/escalations/${id}`);
  t.equal(plain.status, 200);
  t.ok(plain.body.escalation.evidence.snippet, 'the snippet is shown');
  t.notOk(plain.body.escalation.evidence.text, 'fullText off (the default): no full text');
  t.notOk(JSON.stringify(plain.body).includes('my mother'), 'nor anywhere else in the view');
  const full = await get(B, rita, `/inbox/api/escalations/${id}`);
  t.equal(full.body.escalation.evidence.text, text, 'fullText on: the whole message');
  const queue = await get(B, rita, '/inbox/api/queue?tenant=acme');
  t.notOk(JSON.stringify(queue.body).includes('my mother'), 'never in the queue');

  // A message kept under another of safety.textFields (body) is shown the same way.
  const inBody = 'there is no point anymore, i am going to end my life this weekend, my sister will find me';
  const bodyId = await crisis('fan-body', inBody, 'body');
  t.equal((await get(B, rita, `/inbox/api/escalations/${bodyId}`)).body.escalation.evidence.text, inBody);
});

t.test(
  'inbox-shared-sessions - on the real bucket, an idle extension loses to a sign-out elsewhere',
  async (t) => {
    const backend = new KvSessionBackend(await admin.kvm.open('parley-inbox-sessions'));
    const record = { token: 'f'.repeat(64), csrf: 'c', createdAt: 1, expiresAt: 2 };
    await backend.create('cas-session', record);
    const read = await backend.get('cas-session');
    t.ok(read);
    t.equal(
      await backend.update('cas-session', { ...record, expiresAt: 3 }, read!.revision),
      true,
      'extended',
    );
    t.equal(
      await backend.update('cas-session', { ...record, expiresAt: 4 }, read!.revision),
      false,
      'a stale revision loses',
    );
    const fresh = await backend.get('cas-session');
    await backend.delete('cas-session');
    t.equal(await backend.get('cas-session'), undefined, 'signed out');
    t.equal(
      await backend.update('cas-session', { ...record, expiresAt: 5 }, fresh!.revision),
      false,
      'an extension after the sign-out does not bring it back',
    );
    t.equal(await backend.get('cas-session'), undefined);
  },
);

t.test(
  'inbox-shared-sessions - two operators on two processes resolve at once: one wins, the other is told who',
  async (t) => {
    const id = await crisis('fan-race-2', 'i have the pills ready and i am going to take them all');
    const rita = await signIn(A, TOKENS.rita);
    const ann = await signIn(B, TOKENS.ann);
    // As the page sends them: with the status it shows. Without it, a resume reaching the server after the
    // close was applied would reopen the escalation (a resume of a closed one does), not lose.
    const [r, a] = await Promise.all([
      post(A, rita, `/inbox/api/escalations/${id}/resolve`, { outcome: 'resume', expectStatus: 'open' }),
      post(B, ann, `/inbox/api/escalations/${id}/resolve`, { outcome: 'close', expectStatus: 'open' }),
    ]);
    t.same([r.status, a.status].sort(), [202, 409], 'exactly one accepted');
    const [lost, winner] = r.status === 409 ? [r, 'ann'] : [a, 'rita'];
    t.match(lost.body, { error: { code: 'ALREADY_RESOLVED' } });
    t.comment(`the loser was told: ${lost.body.error.message}`);
    // Lost at the publish (the stream's dedupe answers the winning event, which names its operator), or after
    // the winner's resolution was applied (the conversation's state names who; unnamed only in the moment
    // between the hold being lifted and the state being written).
    t.match(
      lost.body.error.message,
      new RegExp(`resolved by ${winner} \\((resume|close)\\)|is already resolved$|is closed now, not open$`),
      'the loser is told',
    );
    // Only this conversation's resolutions: a resumed held action's outcome lands in EVENTS as well.
    t.equal(
      await streamCount(admin, 'EVENTS', 'evt.*.acme.fan-race-2.admin.escalation.resolved'),
      1,
      'one resolution event',
    );
    t.equal(
      await streamCount(admin, 'AUDIT', 'audit.operator.acme.fan-race-2'),
      1,
      'only the winner audited',
    );
  },
);

t.test(
  'inbox-shared-sessions - closed on one process, then resumed from a page that still shows it open: 409 naming who closed it',
  async (t) => {
    const id = await crisis('fan-stale', 'i am going to kill myself tonight');
    const rita = await signIn(A, TOKENS.rita);
    const ann = await signIn(B, TOKENS.ann);
    t.equal(
      (await post(B, ann, `/inbox/api/escalations/${id}/resolve`, { outcome: 'close', expectStatus: 'open' }))
        .status,
      202,
    );
    await waitFor(
      'the close applied',
      async () => (await get(A, rita, `/inbox/api/escalations/${id}`)).body.escalation?.status === 'closed',
    );
    const stale = await post(A, rita, `/inbox/api/escalations/${id}/resolve`, {
      outcome: 'resume',
      expectStatus: 'open',
    });
    t.equal(stale.status, 409, 'not reopened by a resume meant for the open escalation');
    t.match(stale.body, { error: { code: 'ALREADY_RESOLVED', message: /by ann \(close\)/ } });
    t.equal(
      await streamCount(admin, 'EVENTS', 'evt.*.acme.fan-stale.admin.escalation.resolved'),
      1,
      'only the close was published',
    );
    const reopened = await post(A, rita, `/inbox/api/escalations/${id}/resolve`, {
      outcome: 'resume',
      expectStatus: 'closed',
    });
    t.equal(reopened.status, 202, 'resuming it as closed, knowingly, reopens it');
  },
);
