/**
 * ops-reads: operator reads leave nothing behind on the server (a conversation's trail, the escalation list,
 * a replay's range: no ephemeral consumer lingering for its 5-minute inactive threshold), and one-shot CLI
 * commands talk to the running embedded default instead of starting a second nats-server on its store.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { encode } from '../../src/envelope/codec.js';
import { NatsConversationReader } from '../../src/nats/conversation-reader.js';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { embeddedServerOptions, startNatsServer } from '../../src/nats/embedded-server.js';
import { readEvents } from '../../src/nats/event-reader.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { NatsSafetyStore } from '../../src/nats/safety-store.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, ROOT } from '../helpers/parley.js';

async function consumers(h: Awaited<ReturnType<typeof connect>>, stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const c of h.jsm.consumers.list(stream)) names.push(c.name);
  return names;
}

t.test('ops-reads - trail, escalation and replay reads delete their ordered consumers', async (t) => {
  const nats = await startTestNats(t, { partitions: 4 });
  const h = await connect(t, nats.url);
  await applyDefinitions(h, loadDefinitions(join(ROOT, 'streams')), { partitions: 4 });
  await h.js.publish('audit.sent.acme.c1', encode({ decision: 'sent', rule: 'echo' }));
  await h.js.publish(
    'esc.acme.c1',
    encode({
      escalationId: 'acme.c1.1',
      tenant: 'acme',
      conversation: 'c1',
      reason: 'crisis',
      priority: 'urgent',
    }),
  );
  await h.js.publish('evt.0.acme.c1.message.received', encode({ id: 'e1', type: 'message.received' }));

  const reader = new NatsConversationReader(h.js, h.jsm, await h.kvm.open('parley-state'));
  const trail = await reader.trail('acme', 'c1', 10);
  t.ok(
    trail.some((e) => e.kind === 'sent'),
    'the trail was read',
  );
  t.same(await consumers(h, 'AUDIT'), [], 'no consumer left on AUDIT');

  const store = await NatsSafetyStore.open(h);
  t.equal((await store.escalations({ tenant: 'acme', maxScan: 100 })).length, 1);
  t.same(await consumers(h, 'ESCALATIONS'), [], 'no consumer left on ESCALATIONS');

  let replayed = 0;
  for await (const _ of readEvents(h, { tenant: 'acme' })) replayed++;
  t.equal(replayed, 1);
  for await (const _ of readEvents(h, { tenant: 'acme', from: { seq: 99 } })) replayed++;
  t.equal(replayed, 1, 'an empty range reads nothing');
  t.same(
    (await consumers(h, 'EVENTS')).filter((n) => !/^actors-p/.test(n)),
    [],
    'no replay consumer left on EVENTS',
  );
});

t.test('ops-reads - streams apply|show use a running embedded default, not a second server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-ops-reads-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    [
      `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
      'partitions: 4',
      `streams: ${JSON.stringify(join(ROOT, 'streams'))}`,
      `nats: { embedded: { port: ${port} } }`,
      '',
    ].join('\n'),
  );
  const { config } = loadConfig({ file, env: {} });
  const server = await startNatsServer(embeddedServerOptions(config));
  t.teardown(() => server.stop());

  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
      const child = spawn(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), ...args, '-c', file],
        { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      child.on('error', fail);
      child.on('close', (code) => done({ code, stdout, stderr }));
    });

  // A second nats-server on this store would have to bind the same port and fail; the command would too.
  const apply = await cli(['streams', 'apply', '--json']);
  t.equal(apply.code, 0, apply.stderr);
  const show = await cli(['streams', 'show', '--json']);
  t.equal(show.code, 0, show.stderr);
  t.notMatch(show.stderr, /nats-server 2\.9 has no JetStream sync_interval/, 'no server-version warnings');
  const status = JSON.parse(show.stdout) as { partitions: number; entries: Array<{ exists: boolean }> };
  t.equal(status.partitions, 4);
  t.ok(
    status.entries.every((e) => e.exists),
    'provisioned on the running server',
  );
});
