/**
 * NATS users and permissions (src/nats/permissions.ts) against a real nats-server running the project's
 * configuration: the checked-in nats.conf itself (listen and store moved to a temporary place), and the same
 * renderer with a direct producer for tenant acme. Each role can do its job and nothing outside its grants;
 * a client without credentials is refused (nats-server before 2.9.23: CVE-2023-47090).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import t, { type Test } from 'tap';
import { type Parley, start } from '../../src/main.js';
import { connectNats } from '../../src/nats/connection.js';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { startNatsServer } from '../../src/nats/embedded-server.js';
import { NATS_ROLES, ROLE_PASSWORD_ENV } from '../../src/nats/permissions.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { partitionFor } from '../../src/nats/server-config.js';
import { ACME_TOKEN, ADMIN_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { captureLogger, ROOT, readState, tempDir, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 8;
const PASSWORDS: Record<string, string> = {
  admin: 'pw-admin-6f1c2a',
  ingest: 'pw-ingest-81b0d3',
  actors: 'pw-actors-2c9e44',
  connectors: 'pw-connectors-a77f10',
  'producer-acme': 'pw-producer-acme-5d2e9b',
};
const env: Record<string, string> = {
  ...Object.fromEntries(NATS_ROLES.map((r) => [ROLE_PASSWORD_ENV[r], PASSWORDS[r]!])),
  NATS_PASSWORD_PRODUCER_ACME: PASSWORDS['producer-acme']!,
};

// The project's accounts and users, passwords from the environment, plus a producer for tenant acme.
const dir = tempDir(t, 'parley-perm-');
const server = await startNatsServer({
  port: -1,
  storeDir: join(dir, 'store'),
  configPath: join(dir, 'nats.conf'),
  logFile: join(dir, 'nats.log'),
  partitions: PARTITIONS,
  authorization: {
    roles: Object.fromEntries(NATS_ROLES.map((r) => [r, { env: ROLE_PASSWORD_ENV[r] }])) as never,
    producers: { acme: { env: 'NATS_PASSWORD_PRODUCER_ACME' } },
  },
  env,
});
t.teardown(() => server.stop());

interface Client {
  nc: NatsConnection;
  js: JetStreamClient;
  errors: string[];
}

async function client(user: string): Promise<Client> {
  const nc = await connect({
    servers: server.url,
    user,
    pass: PASSWORDS[user],
    inboxPrefix: `_INBOX.${user}`,
    maxReconnectAttempts: 0,
    name: `perm-test-${user}`,
  });
  t.teardown(() => nc.close());
  const errors: string[] = [];
  void (async () => {
    for await (const s of nc.status())
      if (s.type === 'error') errors.push(String(s.error?.message ?? s.error));
  })();
  return { nc, js: jetstream(nc, { timeout: 2000 }), errors };
}

const admin = await client('admin');
const adminJsm: JetStreamManager = await jetstreamManager(admin.nc);
const adminHandles = await connectNats({
  url: server.url,
  user: 'admin',
  pass: PASSWORDS.admin!,
  reconnect: false,
});
t.teardown(() => adminHandles.nc.close());
await applyDefinitions(adminHandles, loadDefinitions(join(ROOT, 'streams')), { partitions: PARTITIONS });

/** A publish the server refuses: reported as a permissions violation and never seen by a subscriber. */
async function publishDenied(t: Test, c: Client, subject: string): Promise<void> {
  const observer = admin.nc.subscribe(subject.replace(/^\$JS\.API\..*/, subject));
  await admin.nc.flush();
  c.nc.publish(subject, 'x');
  await c.nc.flush().catch(() => {});
  const needle = `Permissions Violation for Publish to "${subject}"`;
  const reported = await waitFor(
    `violation for ${subject}`,
    async () => c.errors.some((e) => e.includes(needle)),
    3000,
    20,
  ).catch(() => false);
  await sleep(20);
  observer.unsubscribe();
  t.ok(reported, `publish ${subject} refused`);
  t.equal(observer.getProcessed(), 0, `nothing delivered on ${subject}`);
}

async function subscribeDenied(t: Test, c: Client, subject: string): Promise<void> {
  const sub = c.nc.subscribe(subject);
  const closed = await Promise.race([sub.closed, sleep(3000, 'still open')]);
  t.match(
    String(closed instanceof Error ? closed.message : closed),
    /Permissions Violation for Subscription/,
    `subscribe ${subject} refused`,
  );
}

const ingestSubject = (tenant: string, conversation: string) =>
  `ingest.${tenant}.${conversation}.message.received`;

t.test('nats-permissions - a client without valid credentials is refused', async (t) => {
  const refused = (opts: Record<string, unknown>) =>
    connect({ servers: server.url, maxReconnectAttempts: 0, ...opts }).then(
      async (nc) => {
        await nc.close();
        return 'connected';
      },
      (err: Error) => err.message,
    );
  t.match(await refused({}), /Authorization Violation/, 'no credentials');
  t.match(await refused({ user: 'ingest' }), /Authorization Violation/, 'user without password');
  t.match(await refused({ user: 'ingest', pass: 'guess' }), /Authorization Violation/, 'wrong password');
  t.match(
    await refused({ user: 'admin', pass: PASSWORDS.ingest }),
    /Authorization Violation/,
    "another user's password",
  );
  t.match(await refused({ token: PASSWORDS.admin }), /Authorization Violation/, 'a password as token');
  t.match(
    await refused({ user: 'producer-globex', pass: PASSWORDS['producer-acme'] }),
    /Authorization Violation/,
  );
});

t.test('nats-permissions - ingest publishes events and reads state, nothing else', async (t) => {
  const c = await client('ingest');
  const ack = await c.js.publish(ingestSubject('acme', 'c1'), '{}', { msgID: 'perm-ingest-1' });
  t.equal(ack.stream, 'EVENTS');
  const kvm = new Kvm(c.js);
  t.equal(await (await kvm.open('parley-state')).get('acme.c1'), null, 'reads parley-state');
  await (await kvm.open('parley-replay')).create('acme.k1', 'x');
  // Inbox sessions, shared by every ingest process: create, extend (compare-and-set), sign out.
  const sessions = await kvm.open('parley-inbox-sessions');
  const rev = await sessions.create('perm-session', '{}');
  await sessions.update('perm-session', '{"x":1}', rev);
  await sessions.delete('perm-session');
  // One EVENTS message by sequence (who won a resolution; the inbox's full text), never a delete.
  const read = await jetstreamManager(c.nc);
  t.equal(
    (await read.streams.getMessage('EVENTS', { seq: ack.seq }))?.seq,
    ack.seq,
    'reads EVENTS by sequence',
  );
  // Operator switches at every scope (HTTP pause/resume), but not the escalation holds the actors own.
  const control = await kvm.open('parley-control');
  for (const key of ['global', 'tenant.perm', 'tenant.perm.conversation.c1', 'rule.echo', 'channel.dm']) {
    await control.put(key, '{"mode":"pause"}');
    await control.delete(key);
  }
  // Operator events (admin.*) it publishes; what only the engine emits it cannot.
  t.equal(
    (await c.js.publish('ingest.acme.c1.admin.consent.updated', '{}', { msgID: 'perm-ingest-op' })).stream,
    'EVENTS',
  );
  for (const type of ['action.sent', 'action.failed', 'detector.inactive', 'timer.wake', 'timer']) {
    await t.rejects(
      c.js.publish(`ingest.acme.c1.${type}`, '{}', { msgID: `perm-ingest-${type}`, timeout: 1000 }),
      /Permissions Violation|timeout|no responders/i,
      `cannot publish ${type}`,
    );
  }
  t.equal(
    (await adminJsm.streams.info('EVENTS', { subjects_filter: 'evt.*.acme.c1.>' })).state.subjects?.[
      `evt.${partitionFor('acme', 'c1', PARTITIONS)}.acme.c1.action.sent`
    ],
    undefined,
    'no engine-type event from ingest reached EVENTS',
  );
  await t.rejects(
    (await kvm.open('parley-state')).put('acme.c1', 'x'),
    /Permissions Violation|timeout/i,
    'cannot write state',
  );
  for (const subject of [
    'act.webhook.acme.c1',
    'esc.acme.c1',
    'audit.decision.acme.c1',
    'dlq.events.acme',
    '$KV.parley-state.acme.c1',
    '$KV.parley-tokens.acme',
    '$KV.parley-leases.p0',
    '$KV.parley-control.escalation.acme.c1',
    '$KV.parley-control.deployment-secret',
    '$JS.API.STREAM.DELETE.EVENTS',
    '$JS.API.STREAM.PURGE.EVENTS',
    '$JS.API.STREAM.MSG.DELETE.EVENTS',
    '$JS.API.STREAM.CREATE.EVIL',
    '$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.evil',
    '$JS.API.CONSUMER.DELETE.EVENTS.actors-p0',
    '$JS.ACK.ACTIONS.connector-webhook.1.1.1.1.1',
  ])
    await publishDenied(t, c, subject);
  for (const subject of ['evt.>', 'act.>', 'ingest.>', '_INBOX.actors.>', '_INBOX.>', '$KV.>', '>'])
    await subscribeDenied(t, c, subject);
  t.ok(await adminJsm.streams.info('EVENTS'), 'EVENTS still there');
});

t.test(
  "nats-permissions - actors consume EVENTS, publish effects and run their partitions' connector stage",
  async (t) => {
    const c = await client('actors');
    const jsm = await jetstreamManager(c.nc);
    await jsm.consumers.add('EVENTS', {
      durable_name: 'actors-p7',
      filter_subject: 'evt.7.>',
      ack_policy: 'explicit' as never,
    });
    await jsm.consumers.delete('EVENTS', 'actors-p7');
    t.equal((await c.js.publish('act.7.webhook.acme.c1', '{}', { msgID: 'perm-act-1' })).stream, 'ACTIONS');
    t.equal((await c.js.publish('audit.decision.acme.c1', '{}')).stream, 'AUDIT');
    const kvm = new Kvm(c.js);
    await (await kvm.open('parley-state')).put('acme.perm', 'x');
    const leases = await kvm.open('parley-leases');
    await leases.put('members.perm-owner', '{}');
    const keys: string[] = [];
    for await (const k of await leases.keys('members.>')) keys.push(k);
    t.ok(keys.includes('members.perm-owner'), 'lists the members of the leases bucket');
    await (await kvm.open('parley-consent')).put('acme.perm', '{}');
    await (await kvm.open('parley-control')).put('escalation.acme.perm', '{}');

    // The connector stage, under the partition's lease: ACTIONS consumer of the partition, pull and ack.
    await jsm.consumers.add('ACTIONS', {
      durable_name: 'connectors-p7',
      filter_subject: 'act.7.>',
      ack_policy: 'explicit' as never,
    });
    const consumer = await c.js.consumers.get('ACTIONS', 'connectors-p7');
    const msg = await consumer.next({ expires: 2000 });
    t.equal(msg?.subject, 'act.7.webhook.acme.c1', 'pulls its partition of ACTIONS');
    await msg?.ackAck();
    t.ok((await jsm.consumers.info('ACTIONS', 'connectors-p7')).ack_floor.stream_seq > 0, 'and acks it');
    await jsm.consumers.delete('ACTIONS', 'connectors-p7');
    await (await kvm.open('parley-tokens')).put('perm', 'x');
    await (await kvm.open('parley-executions')).put('perm', 'x');
    t.equal(
      (await c.js.publish('ingest.acme.c1.action.sent', '{}', { msgID: 'perm-act-out-1' })).stream,
      'EVENTS',
      'reports outcomes',
    );
    t.equal((await c.js.publish('dlq.webhook.acme', '{}')).stream, 'DLQ', 'dead-letters');
    for (const subject of [
      '$KV.parley-control.global',
      '$KV.parley-control.tenant.acme',
      '$KV.parley-replay.acme.k',
      '$KV.parley-rules.acme',
      '$KV.parley-inbox-sessions.k',
      '$JS.API.DIRECT.GET.KV_parley-inbox-sessions',
      '$JS.API.STREAM.MSG.GET.KV_parley-inbox-sessions',
      '$JS.API.STREAM.DELETE.EVENTS',
      '$JS.API.STREAM.PURGE.ACTIONS',
      '$JS.API.STREAM.DELETE.ACTIONS',
    ])
      await publishDenied(t, c, subject);
    for (const subject of ['act.>', 'ingest.>', 'evt.>', '_INBOX.ingest.>', '>'])
      await subscribeDenied(t, c, subject);
  },
);

t.test(
  'nats-permissions - connectors consume ACTIONS and report outcomes, but cannot forge actions',
  async (t) => {
    const c = await client('connectors');
    const jsm = await jetstreamManager(c.nc);
    await jsm.consumers.add('ACTIONS', {
      durable_name: 'connectors-p3',
      filter_subject: 'act.3.>',
      ack_policy: 'explicit' as never,
    });
    await jsm.consumers.delete('ACTIONS', 'connectors-p3');
    t.equal(
      (await c.js.publish(`ingest.acme.c1.action.sent`, '{}', { msgID: 'perm-out-1' })).stream,
      'EVENTS',
    );
    t.equal((await c.js.publish('dlq.webhook.acme', '{}')).stream, 'DLQ');
    const kvm = new Kvm(c.js);
    await (await kvm.open('parley-tokens')).put('perm', 'x');
    await (await kvm.open('parley-executions')).put('perm', 'x');
    for (const subject of [
      'act.3.webhook.acme.c1',
      'esc.acme.c1',
      '$KV.parley-state.acme.c1',
      '$KV.parley-leases.p0',
      '$KV.parley-consent.acme.c1',
      '$KV.parley-inbox-sessions.k',
      '$JS.API.DIRECT.GET.KV_parley-inbox-sessions',
      '$JS.API.STREAM.MSG.GET.EVENTS',
      '$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.evil',
      '$JS.API.STREAM.DELETE.ACTIONS',
    ])
      await publishDenied(t, c, subject);
    for (const subject of ['evt.>', 'act.>', '_INBOX.admin.>', '>']) await subscribeDenied(t, c, subject);
  },
);

t.test('nats-permissions - a tenant producer writes only its own ingest subjects, partitioned', async (t) => {
  const c = await client('producer-acme');
  const ack = await c.js.publish(ingestSubject('acme', 'c9'), '{}', { msgID: 'perm-producer-1' });
  t.equal(ack.stream, 'EVENTS', 'acknowledged across the account boundary');
  const stored = await adminJsm.streams.getMessage('EVENTS', { seq: ack.seq });
  t.equal(stored?.subject, `evt.${partitionFor('acme', 'c9', PARTITIONS)}.acme.c9.message.received`);
  for (const subject of [
    ingestSubject('globex', 'c9'),
    'ingest.acme.c9.admin.consent.updated',
    'ingest.acme.c9.admin.trigger',
    'ingest.acme.c9.admin.escalation.resolved',
    'ingest.acme.c9.admin',
    'ingest.acme.c9.action.sent',
    'ingest.acme.c9.action.failed',
    'ingest.acme.c9.detector.spend_changed',
    'ingest.acme.c9.detector.conversion_failed',
    'ingest.acme.c9.detector.inactive',
    'ingest.acme.c9.timer.wake',
    `evt.0.acme.c9.message.received`,
    'act.webhook.acme.c9',
    '$JS.API.INFO',
    '$JS.API.STREAM.INFO.EVENTS',
    '$KV.parley-state.acme.c9',
  ])
    await publishDenied(t, c, subject);
  for (const subject of ['ingest.>', 'evt.>', '_INBOX.ingest.>', '>']) await subscribeDenied(t, c, subject);
});

t.test('nats-permissions - the admin user can do everything', async (t) => {
  const sub = admin.nc.subscribe('>', { max: 1 });
  await admin.nc.flush();
  admin.nc.publish('anything.at.all', 'x');
  for await (const m of sub) t.equal(m.subject, 'anything.at.all');
  t.ok((await adminJsm.streams.info('EVENTS')).config);
});

t.test(
  'nats-permissions - Parley runs each role as its own user; direct producers are accepted or dead-lettered',
  async (t) => {
    const auth = httpTestConfig();
    const configFor = (user: string) =>
      testConfig(t, server.url, PARTITIONS, {
        nats: { url: server.url, user, pass: PASSWORDS[user] },
        tenants: auth.tenants,
        admin: auth.admin,
      });
    const run = async (
      user: string,
      roles: Array<'actors' | 'ingest' | 'connectors' | 'scheduler'>,
    ): Promise<Parley> => {
      // provision: each role only verifies the definitions (stream info), the admin applied them.
      const { log, lines } = captureLogger();
      const p = await start(configFor(user), { roles, logger: log, drainMs: 3000 });
      t.teardown(() => p.stop());
      violations.set(user, () =>
        lines.filter((l) => JSON.stringify(l).includes('Permissions Violation')).map((l) => l.err),
      );
      return p;
    };
    const violations = new Map<string, () => unknown[]>();
    // The connector stage runs inside the partition owners: actors and connectors share the actors user.
    const actors = await run('actors', ['actors', 'connectors', 'scheduler']);
    const ingest = await run('ingest', ['ingest']);
    t.ok(actors.actors, 'actors role started as user actors');

    const res = await fetch(`${ingest.ingest!.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'full-1',
        type: 'message.received',
        conversation: 'c-full',
        occurredAt: new Date().toISOString(),
      }),
    });
    t.equal(res.status, 202, 'ingest role published as user ingest');
    await waitFor(
      'actor state',
      async () => ((await readState(adminHandles, 'acme', 'c-full'))?.state.events ?? 0) >= 1,
    );
    t.pass('actors role processed it as user actors');
    const view = await fetch(`${ingest.ingest!.url}/v1/conversations/c-full`, {
      headers: { authorization: `Bearer ${ACME_TOKEN}` },
    });
    t.equal(view.status, 200, 'ingest role reads state and AUDIT as user ingest');

    // Straight to NATS as the tenant's producer: JSON by Content-Type, tenant/conversation/type from the subject.
    const producer = await client('producer-acme');
    const h = headers();
    h.set('Content-Type', 'application/json');
    await producer.js.publish(
      ingestSubject('acme', 'c-direct'),
      JSON.stringify({ id: 'direct-1', occurredAt: new Date().toISOString(), attributes: { text: 'hello' } }),
      { headers: h, msgID: 'acme:direct-1' },
    );
    await waitFor(
      'direct event applied',
      async () => ((await readState(adminHandles, 'acme', 'c-direct'))?.state.events ?? 0) >= 1,
    );
    t.pass('a direct JSON publish is processed');

    // A producer cannot pre-empt what Parley publishes into EVENTS by its predictable id: it knows the
    // sequence of its own crisis message, hence the escalation id and the resolution's event id, and
    // publishes that id first, plain and tenant-scoped. Parley's Nats-Msg-Id is keyed: the resolution stands.
    const crisisHeaders = headers();
    crisisHeaders.set('Content-Type', 'application/json');
    const crisisAck = await producer.js.publish(
      ingestSubject('acme', 'c-preempt'),
      JSON.stringify({
        id: 'direct-crisis',
        occurredAt: new Date().toISOString(),
        attributes: { text: 'i want to kill myself tonight' },
      }),
      { headers: crisisHeaders, msgID: 'acme:direct-crisis' },
    );
    const escalationId = `acme.c-preempt.${crisisAck.seq}`;
    for (const forged of [`resolve.${escalationId}.open`, `acme:resolve.${escalationId}.open`])
      t.equal(
        (await producer.js.publish(ingestSubject('acme', 'c-preempt'), '{}', { msgID: forged })).duplicate,
        false,
        `the producer stored ${forged} first`,
      );
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${ingest.ingest!.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      });
    await waitFor(
      'the escalation',
      async () => (await api(`/v1/escalations/${escalationId}`)).status === 200,
    );
    const resolved = await api(`/v1/escalations/${escalationId}/resolve`, {
      method: 'POST',
      body: JSON.stringify({ outcome: 'close' }),
    });
    t.equal(resolved.status, 202, 'the operator resolution is accepted');
    t.match(await resolved.json(), { duplicate: false }, 'and stored, not dropped as a duplicate');
    await waitFor(
      'closed',
      async () =>
        ((await (await api(`/v1/escalations/${escalationId}`)).json()) as { status?: string }).status ===
        'closed',
    );
    const dlqBefore = (await adminJsm.streams.info('DLQ', { subjects_filter: 'dlq.events.acme' })).state
      .messages;
    const bad = headers();
    bad.set('Content-Type', 'application/json');
    await producer.js.publish(ingestSubject('acme', 'c-direct'), '{not json', {
      headers: bad,
      msgID: 'acme:direct-bad',
    });
    await waitFor('dead letter', async () => (await adminJsm.streams.info('DLQ')).state.messages > dlqBefore);
    const last = await adminJsm.streams.getMessage('DLQ', { last_by_subj: 'dlq.events.acme' });
    t.ok(last, 'an invalid direct publish is dead-lettered');
    t.ok(last?.header.get('Parley-Error'), `with its reason: ${last?.header.get('Parley-Error')}`);
    t.ok(
      actors.actors?.status().partitions.every((p) => p.state === 'running'),
      'and the actor keeps running',
    );
    for (const [user, reported] of violations) {
      t.same(reported(), [], `no permissions violation reported to ${user}`);
    }
  },
);

t.test(
  'nats-permissions - the checked-in nats.conf starts, maps ingest subjects and refuses anonymous clients',
  async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'parley-natsconf-'));
    t.teardown(() => rmSync(home, { recursive: true, force: true }));
    const text = readFileSync(join(ROOT, 'nats.conf'), 'utf8')
      .replace(/^listen: .*$/m, `listen: "127.0.0.1:-1"\nports_file_dir: ${JSON.stringify(home)}`)
      .replace(/^ {2}store_dir: .*$/m, `  store_dir: ${JSON.stringify(join(home, 'store'))}`);
    t.not(text, readFileSync(join(ROOT, 'nats.conf'), 'utf8'));
    // The producer example, uncommented as an operator would: it must deny what the embedded config denies.
    const withProducer = text.replace(/^ {4}# ?(.*)$/gm, (line, body: string) =>
      /^(\{|\}|user:|password:|permissions:|publish:|subscribe:)/.test(body.trim()) ? `    ${body}` : line,
    );
    t.not(withProducer, text, 'the checked-in file carries a producer example');
    const conf = join(home, 'nats.conf');
    writeFileSync(conf, withProducer);
    const child = spawn('nats-server', ['-c', conf], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    t.teardown(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const portsFile = join(home, `nats-server_${child.pid}.ports`);
    await waitFor('ports file', async () => existsSync(portsFile), 10_000, 50);
    const url = JSON.parse(readFileSync(portsFile, 'utf8')).nats[0] as string;
    await t.rejects(connect({ servers: url, maxReconnectAttempts: 0 }), /Authorization Violation/);
    const nc = await connect({
      servers: url,
      user: 'admin',
      pass: PASSWORDS.admin,
      inboxPrefix: '_INBOX.admin',
    });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'EVENTS', subjects: ['evt.>'] });
    const ingest = await connect({
      servers: url,
      user: 'ingest',
      pass: PASSWORDS.ingest,
      inboxPrefix: '_INBOX.ingest',
    });
    t.teardown(() => ingest.close());
    const ack = await jetstream(ingest).publish(ingestSubject('acme', 'c1'), '{}');
    const stored = await jsm.streams.getMessage('EVENTS', { seq: ack.seq });
    t.equal(
      stored?.subject,
      `evt.${partitionFor('acme', 'c1', 64)}.acme.c1.message.received`,
      'partition(64) mapping',
    );
    // The reported attack: a producer from the example re-enabling sends with admin.consent.updated.
    const producer = await connect({
      servers: url,
      user: 'producer-acme',
      pass: PASSWORDS['producer-acme'],
      inboxPrefix: '_INBOX.producer-acme',
    });
    t.teardown(() => producer.close());
    const pjs = jetstream(producer, { timeout: 1000 });
    t.equal((await pjs.publish(ingestSubject('acme', 'c2'), '{}')).stream, 'EVENTS', 'producer publishes');
    for (const type of ['admin.consent.updated', 'admin.escalation.resolved', 'action.sent', 'timer.wake']) {
      await t.rejects(
        pjs.publish(`ingest.acme.c2.${type}`, '{"dnd":false}'),
        /Permissions Violation|timeout|no responders/i,
        `the example producer cannot publish ${type}`,
      );
    }
    const info = await jsm.streams.info('EVENTS', { subjects_filter: '>' });
    t.same(
      Object.keys(info.state.subjects ?? {}).filter((s) => !s.endsWith('.message.received')),
      [],
      'only message.received reached EVENTS',
    );
  },
);
