/**
 * The operator inbox's server side (src/http/inbox) through the real app (buildApp, inject), with an
 * in-process SafetyStore that deduplicates events by id as JetStream does: sign-in (login CSRF, operator
 * tokens only, cookie flags), sessions (idle expiry, sign-out), CSRF on every POST, roles and tenant scope,
 * the exclusive resolution (a second resolver gets 409, nothing audited for it), what is audited.
 */
import Fastify from 'fastify';
import t from 'tap';
import type { EventEnvelope } from '../../src/contracts/envelope.js';
import { compileAuth } from '../../src/http/auth.js';
import { registerInboxRoutes, SESSION_COOKIE } from '../../src/http/inbox/routes.js';
import {
  MemorySessionBackend,
  type SessionBackend,
  SessionStore,
  sessionKey,
} from '../../src/http/inbox/sessions.js';
import type { EscalationMessage, SafetyStore } from '../../src/ops/safety-ops.js';
import {
  ACME_TOKEN,
  ADMIN_TOKEN,
  httpTestConfig,
  MemoryConversations,
  testApp,
} from '../helpers/http-fakes.js';

const TOKENS = { rita: 'inbox-rita-0123456789', vera: 'inbox-vera-0123456789', ann: 'inbox-ann-0123456789' };
const OPERATORS = [
  { name: 'rita', token: TOKENS.rita, roles: ['reviewer'] },
  { name: 'vera', token: TOKENS.vera, roles: ['viewer'] },
  { name: 'ann', token: TOKENS.ann, roles: ['reviewer', 'operator'], tenants: ['globex'] },
];

class MemoryStore implements SafetyStore {
  readonly escs: EscalationMessage[] = [];
  readonly kv = new Map<string, Record<string, unknown>>();
  readonly events = new Map<string, number>();
  readonly published: EventEnvelope[] = [];
  readonly audits: Array<Record<string, unknown>> = [];
  async escalations(f: { tenant?: string; conversation?: string }) {
    return this.escs.filter(
      (e) => (!f.tenant || e.tenant === f.tenant) && (!f.conversation || e.conversation === f.conversation),
    );
  }
  control = {
    get: async (k: string) => this.kv.get(k),
    put: async (k: string, v: Record<string, unknown>) => void this.kv.set(k, v),
    delete: async (k: string) => void this.kv.delete(k),
    list: async () => [...this.kv].map(([key, value]) => ({ key, value })),
  };
  consent = { get: async () => undefined };
  async publishEvent(e: EventEnvelope) {
    const seen = this.events.get(e.id);
    if (seen) return { seq: seen, duplicate: true };
    this.published.push(e);
    this.events.set(e.id, this.published.length);
    return { seq: this.published.length, duplicate: false };
  }
  async eventAt(seq: number) {
    return this.published[seq - 1];
  }
  async audit(_kind: string, _tenant: string, _conversation: string, record: Record<string, unknown>) {
    this.audits.push(record);
  }
  now() {
    return Date.UTC(2026, 0, 5, 12);
  }
  open(tenant: string, conversation: string, priority = 'urgent', reason = 'crisis'): string {
    const seq = this.escs.length + 1;
    const escalationId = `${tenant}.${conversation}.${seq}`;
    this.escs.push({
      seq,
      escalationId,
      tenant,
      conversation,
      reason,
      priority,
      evidence: { snippet: 'end my life', labels: [] },
      at: '2026-01-05T11:00:00.000Z',
    });
    this.kv.set(`escalation.${tenant}.${conversation}`, { escalationId, status: 'open', since: '' });
    return escalationId;
  }
}

function setup(
  t: { teardown(fn: () => unknown): void },
  now?: () => number,
  o: { sessions?: SessionBackend; operators?: typeof OPERATORS; store?: MemoryStore } = {},
) {
  const store = o.store ?? new MemoryStore();
  const { app, conversations } = testApp(t, {
    config: httpTestConfig({ operators: o.operators ?? OPERATORS }),
    safety: store,
    ...(now ? { now } : {}),
    ...(o.sessions ? { inboxSessions: o.sessions } : {}),
  });
  return { app, store, conversations };
}

function cookieOf(setCookie: string | string[] | undefined, name: string): string | undefined {
  const all = [setCookie ?? []].flat();
  return all.find((c) => c.startsWith(`${name}=`));
}

async function signIn(app: ReturnType<typeof setup>['app'], token: string) {
  const page = await app.inject({ method: 'GET', url: '/inbox' });
  const pre = /name="pre" value="([^"]+)"/.exec(page.body)![1]!;
  const res = await app.inject({
    method: 'POST',
    url: '/inbox/sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `parley_inbox_pre=${pre}` },
    payload: new URLSearchParams({ token, pre }).toString(),
  });
  const set = cookieOf(res.headers['set-cookie'], SESSION_COOKIE);
  const session = set ? set.split(';')[0]! : '';
  let csrf = '';
  if (session) {
    const app_ = await app.inject({ method: 'GET', url: '/inbox', headers: { cookie: session } });
    const content = /name="inbox-config" content="([^"]+)"/.exec(app_.body)![1]!.replaceAll('&quot;', '"');
    csrf = (JSON.parse(content) as { csrf: string }).csrf;
  }
  return { res, set, session, csrf };
}

t.test('inbox - sign-in: the form, operator tokens only, cookie flags, login CSRF', async (t) => {
  const { app } = setup(t);
  const page = await app.inject({ method: 'GET', url: '/inbox' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /<input id="token" name="token" type="password"/, 'the field is name="token"');
  t.match(page.headers['content-security-policy'], /script-src 'self'/);

  const tenant = await signIn(app, ACME_TOKEN);
  t.equal(tenant.res.statusCode, 401, 'a tenant token does not sign in');
  t.notOk(tenant.set);
  const unknown = await signIn(app, 'no-such-token');
  t.equal(unknown.res.statusCode, 401);

  const noPre = await app.inject({
    method: 'POST',
    url: '/inbox/sign-in',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `token=${TOKENS.rita}`,
  });
  t.equal(noPre.statusCode, 403, 'a sign-in post without the form cookie is refused (login CSRF)');

  const ok = await signIn(app, TOKENS.rita);
  t.equal(ok.res.statusCode, 303);
  t.equal(ok.res.headers.location, '/inbox');
  t.match(ok.set, /HttpOnly/);
  t.match(ok.set, /SameSite=Strict/);
  t.match(ok.set, /Path=\/inbox/);
  t.notMatch(ok.set, /Secure/, 'no Secure over plain HTTP');
  t.match(ok.set, /^parley_inbox=[A-Za-z0-9_-]{43};/, 'the cookie holds only a random id');
  // Extensions do not re-send the cookie, so it must outlive the idle time: the server enforces idleness.
  t.match(ok.set, /Max-Age=86400(;|$)/, 'the cookie lives as long as a session can (24 h), not the idle 8 h');
  const signedIn = await app.inject({ method: 'GET', url: '/inbox', headers: { cookie: ok.session } });
  t.match(signedIn.body, /Signed in as <strong>rita<\/strong>/);

  const admin = await signIn(app, ADMIN_TOKEN);
  t.equal(admin.res.statusCode, 303, 'admin.tokens signs in as the all-roles operator');
});

t.test('inbox - the cookie is Secure when the listener serves TLS', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  const config = httpTestConfig({ operators: OPERATORS });
  registerInboxRoutes(app, {
    auth: compileAuth(config),
    store: new MemoryStore(),
    conversations: new MemoryConversations(),
    tenants: ['acme'],
    secure: true,
    trailLimit: 10,
  });
  const { set } = await signIn(app as unknown as ReturnType<typeof setup>['app'], TOKENS.rita);
  t.match(set, /; Secure/);
});

t.test('inbox - sessions: API needs one, idle expiry, sign-out forgets it', async (t) => {
  let clock = Date.UTC(2026, 0, 5, 12);
  const { app } = setup(t, () => clock);
  t.equal((await app.inject({ method: 'GET', url: '/inbox/api/queue' })).statusCode, 401);
  const { session, csrf } = await signIn(app, TOKENS.rita);
  const queue = () => app.inject({ method: 'GET', url: '/inbox/api/queue', headers: { cookie: session } });
  t.equal((await queue()).statusCode, 200);
  clock += 7 * 3_600_000;
  t.equal((await queue()).statusCode, 200, 'used within 8 h: still signed in');
  clock += 8 * 3_600_000 + 1;
  t.equal((await queue()).statusCode, 401, 'idle for more than 8 h: signed out');

  const again = await signIn(app, TOKENS.rita);
  const noCsrf = await app.inject({
    method: 'POST',
    url: '/inbox/sign-out',
    headers: { cookie: again.session, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'csrf=wrong',
  });
  t.equal(noCsrf.statusCode, 403, 'sign-out checks the CSRF token too');
  const out = await app.inject({
    method: 'POST',
    url: '/inbox/sign-out',
    headers: { cookie: again.session, 'content-type': 'application/x-www-form-urlencoded' },
    payload: `csrf=${again.csrf}`,
  });
  t.equal(out.statusCode, 303);
  t.match(cookieOf(out.headers['set-cookie'], SESSION_COOKIE), /Max-Age=0/);
  const after = await app.inject({
    method: 'GET',
    url: '/inbox/api/queue',
    headers: { cookie: again.session },
  });
  t.equal(after.statusCode, 401, 'the old cookie no longer works');
  t.ok(csrf, 'a CSRF token was issued');

  const busy = await signIn(app, TOKENS.rita);
  const use = () => app.inject({ method: 'GET', url: '/inbox/api/queue', headers: { cookie: busy.session } });
  for (let h = 0; h < 3; h++) {
    clock += 7 * 3_600_000;
    t.equal((await use()).statusCode, 200, `in use, ${(h + 1) * 7} h after sign-in`);
  }
  clock += 3 * 3_600_000 + 1;
  t.equal((await use()).statusCode, 401, 'at most 24 h after sign-in, however busy');

  // An unattended tab refreshes after every live update; those requests say so and do not count as use.
  const tab = await signIn(app, TOKENS.rita);
  const refresh = () =>
    app.inject({
      method: 'GET',
      url: '/inbox/api/queue',
      headers: { cookie: tab.session, 'x-inbox-background': '1' },
    });
  for (let h = 0; h < 2; h++) {
    clock += 3 * 3_600_000;
    t.equal((await refresh()).statusCode, 200, `a background refresh ${(h + 1) * 3} h after sign-in`);
  }
  clock += 2 * 3_600_000 + 1;
  t.equal((await refresh()).statusCode, 401, 'background refreshes alone: signed out 8 h after the last use');
});

t.test(
  'inbox - sessions live in shared storage: any process accepts them, sign-out anywhere ends them',
  async (t) => {
    const shared = new MemorySessionBackend();
    const a = setup(t, undefined, { sessions: shared }).app;
    const b = setup(t, undefined, { sessions: shared }).app;
    const queue = (app: typeof a, cookie: string) =>
      app.inject({ method: 'GET', url: '/inbox/api/queue', headers: { cookie } });
    const rita = await signIn(a, TOKENS.rita);
    t.equal((await queue(b, rita.session)).statusCode, 200, 'signed in on one process, accepted on another');
    t.equal(shared.size, 1);
    const id = rita.session.split('=')[1]!;
    t.notOk(await shared.get(id), 'storage is not keyed by the cookie value');
    t.ok(await shared.get(sessionKey(id)), 'but by its hash');
    const out = await b.inject({
      method: 'POST',
      url: '/inbox/sign-out',
      headers: { cookie: rita.session, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `csrf=${rita.csrf}`,
    });
    t.equal(out.statusCode, 303);
    t.equal((await queue(a, rita.session)).statusCode, 401, 'signed out on the other: refused here too');

    // A process whose configuration no longer has rita's token (removed or rotated) refuses her session.
    const vera = await signIn(a, TOKENS.vera);
    const rotated = setup(t, undefined, {
      sessions: shared,
      operators: OPERATORS.map((op) =>
        op.name === 'vera' ? { ...op, token: 'inbox-vera-rotated-0123' } : op,
      ),
    }).app;
    t.equal((await queue(rotated, vera.session)).statusCode, 401, 'a rotated token ends its sessions');
    t.equal(
      (await queue(a, vera.session)).statusCode,
      200,
      'not deleted: a process that still has the token (a rolling change) accepts it',
    );
  },
);

t.test('inbox - an idle extension never revives a session signed out meanwhile elsewhere', async (t) => {
  let clock = Date.UTC(2026, 0, 5, 12);
  const backend = new MemorySessionBackend();
  const op = { name: 'rita', roles: ['reviewer'] as const };
  const store = new SessionStore(backend, {
    operatorOf: (d) => (d === 'a'.repeat(64) ? op : undefined),
    now: () => clock,
  });
  const s = await store.create('a'.repeat(64));
  clock += 5 * 60_000;
  const get = backend.get.bind(backend);
  let raced = false;
  // Between this process's read and its write, another process signs the session out.
  backend.get = async (key: string) => {
    const found = await get(key);
    if (!raced) {
      raced = true;
      await backend.delete(key);
    }
    return found;
  };
  t.equal(await store.get(s.id), undefined, 'the lost compare-and-set re-reads: signed out');
  t.equal(backend.size, 0, 'nothing was written back');
  backend.get = get;

  const live = await store.create('a'.repeat(64));
  clock += 30_000;
  const before = (await backend.get(sessionKey(live.id)))!.revision;
  t.ok(await store.get(live.id));
  t.equal((await backend.get(sessionKey(live.id)))!.revision, before, 'used within a minute: no write');
  clock += 60_000;
  const checked = await store.get(live.id, { extend: false });
  t.ok(checked, 'a check that is not use (an open event stream)');
  t.equal((await backend.get(sessionKey(live.id)))!.revision, before, 'does not extend it');
  t.ok(await store.get(live.id));
  t.not((await backend.get(sessionKey(live.id)))!.revision, before, 'a minute later: the expiry moves');
});

t.test('inbox - queue order and filters; roles and tenant scope; CSRF on resolve', async (t) => {
  const { app, store } = setup(t);
  const low = store.open('acme', 'c-low', 'normal', 'revenue-objection');
  const urgent = store.open('acme', 'c-urgent');
  const other = store.open('globex', 'g1', 'high', 'abuse');
  const rita = await signIn(app, TOKENS.rita);
  const list = async (cookie: string, q = '') =>
    (await app.inject({ method: 'GET', url: `/inbox/api/queue${q}`, headers: { cookie } })).json() as {
      escalations: Array<{ escalationId: string }>;
      reasons: string[];
    };
  t.same(
    (await list(rita.session)).escalations.map((e) => e.escalationId),
    [urgent, other, low],
    'priority, then age',
  );
  t.same(
    (await list(rita.session, '?tenant=acme')).escalations.map((e) => e.escalationId),
    [urgent, low],
  );
  t.same(
    (await list(rita.session, '?reason=abuse')).escalations.map((e) => e.escalationId),
    [other],
  );
  t.same((await list(rita.session, '?status=resolved')).escalations, []);

  const ann = await signIn(app, TOKENS.ann);
  t.same(
    (await list(ann.session)).escalations.map((e) => e.escalationId),
    [other],
    'a tenant-scoped operator sees its tenants only',
  );
  const hidden = await app.inject({
    method: 'GET',
    url: `/inbox/api/escalations/${urgent}`,
    headers: { cookie: ann.session },
  });
  t.equal(hidden.statusCode, 404);

  const resolve = (who: { session: string; csrf: string }, id: string, body: unknown, csrf = who.csrf) =>
    app.inject({
      method: 'POST',
      url: `/inbox/api/escalations/${id}/resolve`,
      headers: { cookie: who.session, 'x-csrf-token': csrf },
      payload: body as Record<string, unknown>,
    });
  const vera = await signIn(app, TOKENS.vera);
  const view = (
    await app.inject({
      method: 'GET',
      url: `/inbox/api/escalations/${urgent}`,
      headers: { cookie: vera.session },
    })
  ).json() as { can: { resolve: boolean; dnd: boolean } };
  t.same(view.can, { resolve: false, dnd: false }, 'the page is told a viewer cannot act');
  const refused = await resolve(vera, urgent, { outcome: 'resume' });
  t.equal(refused.statusCode, 403);
  t.match(refused.json(), { error: { code: 'MISSING_ROLE', message: /"reviewer" role/ } });
  const dnd = await app.inject({
    method: 'POST',
    url: `/inbox/api/escalations/${urgent}/dnd`,
    headers: { cookie: rita.session, 'x-csrf-token': rita.csrf },
    payload: {},
  });
  t.match(dnd.json(), { error: { code: 'MISSING_ROLE', message: /"operator" role/ } }, 'DND needs operator');

  t.equal((await resolve(rita, urgent, { outcome: 'resume' }, 'wrong')).statusCode, 403, 'wrong CSRF');
  t.equal((await resolve(rita, urgent, { outcome: 'reply' })).statusCode, 400, 'a reply needs its text');
  t.equal(store.published.length, 0, 'nothing published by refused requests');

  const won = await resolve(rita, urgent, {
    outcome: 'reply',
    reply: { text: 'We are here' },
    by: 'mallory',
  });
  t.equal(won.statusCode, 400, 'the body cannot name who resolved');
  const ok = await resolve(rita, urgent, { outcome: 'reply', reply: { text: 'We are here' } });
  t.equal(ok.statusCode, 202);
  t.match(store.published[0], {
    id: `resolve.${urgent}.open`,
    type: 'admin.escalation.resolved',
    attributes: { outcome: 'reply', by: 'rita', reply: { text: 'We are here' } },
  });
  t.match(store.audits, [{ action: 'escalation.resolve', outcome: 'reply', by: 'rita' }]);

  const admin = await signIn(app, ADMIN_TOKEN);
  const lost = await resolve(admin, urgent, { outcome: 'close' });
  t.equal(
    lost.statusCode,
    409,
    'a second resolution of the same open escalation loses, whatever its outcome',
  );
  t.match(lost.json(), { error: { code: 'ALREADY_RESOLVED' } });
  t.equal(store.published.length, 1, 'the stream kept only the first');
  t.equal(store.audits.length, 1, 'the loser is not audited');
});

t.test('inbox - an open event stream gets ready, then ends when the server closes', async (t) => {
  const { app } = setup(t);
  const { session } = await signIn(app, TOKENS.rita);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`${url}/inbox/api/events`, { headers: { cookie: session } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('event: ready')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  t.match(text, /event: ready\ndata: \{"live":false\}/, 'ready (no feed given: not live)');
  await app.close();
  let ended = false;
  while (!ended) ended = (await reader.read()).done;
  t.ok(ended, 'the stream ended and close() returned');
});

t.test('inbox - resolved by another operator between the check and the publish: 409, not 400', async (t) => {
  const { app, store, conversations } = setup(t);
  const id = store.open('acme', 'race');
  const get = store.control.get;
  let reads = 0;
  // The route's own check sees it open; by resolveEscalation's read the other resolution was applied.
  store.control.get = async (k: string) => {
    if (k === 'escalation.acme.race' && ++reads === 2) store.kv.delete(k);
    return get(k);
  };
  const { session, csrf } = await signIn(app, TOKENS.rita);
  const res = await app.inject({
    method: 'POST',
    url: `/inbox/api/escalations/${id}/resolve`,
    headers: { cookie: session, 'x-csrf-token': csrf },
    payload: { outcome: 'resume' },
  });
  t.equal(res.statusCode, 409);
  t.match(res.json(), { error: { code: 'ALREADY_RESOLVED', message: /is already resolved$/ } });
  t.equal(store.published.length, 0);

  // Once the conversation's state records the applied resolution, the 409 names who resolved it.
  const named = store.open('acme', 'race-named');
  conversations.states.set('acme.race-named', {
    seq: 9,
    state: { safety: { resolved: { id: named, outcome: 'close', by: 'ann', at: 0 } } },
  });
  store.kv.delete('escalation.acme.race-named');
  const told = await app.inject({
    method: 'POST',
    url: `/inbox/api/escalations/${named}/resolve`,
    headers: { cookie: session, 'x-csrf-token': csrf },
    payload: { outcome: 'resume' },
  });
  t.equal(told.statusCode, 409);
  t.match(told.json(), { error: { code: 'ALREADY_RESOLVED', message: /already resolved by ann \(close\)/ } });
});

t.test(
  'inbox - closed by another operator after the page showed it open: 409, not a silent reopen',
  async (t) => {
    const { app, store } = setup(t);
    const id = store.open('acme', 'closed-meanwhile');
    // The other operator's close was applied: the hold now says closed.
    store.kv.set('escalation.acme.closed-meanwhile', {
      escalationId: id,
      status: 'closed',
      since: '2026-01-05T11:30:00.000Z',
    });
    const { session, csrf } = await signIn(app, TOKENS.rita);
    const resolve = (payload: Record<string, unknown>) =>
      app.inject({
        method: 'POST',
        url: `/inbox/api/escalations/${id}/resolve`,
        headers: { cookie: session, 'x-csrf-token': csrf },
        payload,
      });
    const stale = await resolve({ outcome: 'resume', expectStatus: 'open' });
    t.equal(stale.statusCode, 409, 'the page showed it open; it is closed now');
    t.match(stale.json(), { error: { code: 'ALREADY_RESOLVED', message: /is closed now, not open/ } });
    t.equal(store.published.length, 0, 'nothing published');

    const reopen = await resolve({ outcome: 'resume', expectStatus: 'closed' });
    t.equal(reopen.statusCode, 202, 'resuming the closed escalation it shows reopens it');
    t.equal(store.published.length, 1);
    t.equal(store.published[0]?.id, `resolve.${id}.closed`);
  },
);
