/**
 * The ingest API when NATS is slow or down: 503 with Retry-After and nothing reported as accepted; the
 * client's retry with the same ids is safe (deduplicated) once NATS is back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { start } from '../../src/main.js';
import { connectNats } from '../../src/nats/connection.js';
import { type RunningNatsServer, startNatsServer } from '../../src/nats/embedded-server.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { streamCount, suspendProcess, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
const dir = mkdtempSync(join(tmpdir(), 'parley-down-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const serverOptions = {
  port,
  storeDir: join(dir, 'store'),
  configPath: join(dir, 'nats.conf'),
  logFile: join(dir, 'nats.log'),
  partitions: PARTITIONS,
};
let server: RunningNatsServer = await startNatsServer(serverOptions);
t.teardown(() => server.stop());

const auth = httpTestConfig();
const config = testConfig(t, server.url, PARTITIONS, {
  tenants: auth.tenants,
  http: { host: '127.0.0.1', port: 0, publishTimeoutMs: 1000, retryAfterSeconds: 3 },
});
const parley = await start(config, { roles: ['ingest'], logger: createLogger({ level: 'silent' }) });
t.teardown(() => parley.stop());
const base = parley.ingest!.url;

const event = (id: string) => ({
  id,
  type: 'message.received',
  conversation: 'c-down',
  occurredAt: '2026-01-01T00:00:00Z',
});

async function post(body: unknown) {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ACME_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

async function countOf(msgIds: string[]): Promise<number> {
  const h = await connectNats({ url: server.url, reconnect: false });
  try {
    let n = 0;
    const total = await streamCount(h, 'EVENTS');
    for (let seq = 1; seq <= total; seq++) {
      const m = await h.jsm.streams.getMessage('EVENTS', { seq });
      // `<tenant>:<id>`, then the MAC of the deployment's dedupe secret.
      const key = (m?.header.get('Nats-Msg-Id') ?? '').split(':').slice(0, 2).join(':');
      if (msgIds.includes(key)) n++;
    }
    return n;
  } finally {
    await h.nc.close();
  }
}

t.test(
  'ingest-unavailable - a stalled NATS answers 503 with Retry-After; the retry is deduplicated',
  async (t) => {
    t.equal((await post(event('before'))).status, 202, 'baseline');
    await suspendProcess(server.pid); // the connection stays open, nothing answers
    let stalled: Awaited<ReturnType<typeof post>>;
    try {
      const started = Date.now();
      stalled = await post({ events: [event('slow-1'), event('slow-2')] });
      t.ok(Date.now() - started < 5000, 'answers within the publish timeout, not the client default');
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    t.equal(stalled.status, 503);
    t.equal(stalled.retryAfter, '3');
    t.match(stalled.body, { error: { code: 'UNAVAILABLE' } });
    t.notOk('results' in stalled.body, 'nothing reported as accepted');

    const retry = await waitFor('retry accepted', async () => {
      const r = await post({ events: [event('slow-1'), event('slow-2')] });
      return r.status === 202 ? r : undefined;
    });
    t.same(
      (retry.body.results as Array<{ id: string }>).map((r) => r.id),
      ['slow-1', 'slow-2'],
    );
    t.equal(await countOf(['acme:slow-1', 'acme:slow-2']), 2, 'each event stored exactly once');
  },
);

t.test(
  'ingest-unavailable - NATS down answers 503 at once; readyz says not ready; back up, it accepts',
  async (t) => {
    await server.stop();
    await waitFor(
      'client notices',
      async () => {
        const r = await fetch(`${base}/readyz`);
        return r.status === 503 ? r : undefined;
      },
      10_000,
    );
    const started = Date.now();
    const down = await post(event('down-1'));
    t.equal(down.status, 503);
    t.equal(down.retryAfter, '3');
    t.notOk('results' in down.body);
    t.ok(Date.now() - started < 1000, 'no waiting for a timeout while disconnected');
    const ready = (await (await fetch(`${base}/readyz`)).json()) as {
      status: string;
      checks: Array<{ name: string; ok: boolean }>;
    };
    t.equal(ready.status, 'not_ready');
    t.same(ready.checks[0], { name: 'nats', ok: false, detail: 'not connected (reconnecting)' });
    t.equal((await fetch(`${base}/healthz`)).status, 200, 'the process itself is up');

    server = await startNatsServer(serverOptions); // same port and store: the client reconnects
    const back = await waitFor(
      'accepted again',
      async () => {
        const r = await post(event('down-1'));
        return r.status === 202 ? r : undefined;
      },
      20_000,
      200,
    );
    t.match(back.body, { results: [{ id: 'down-1', duplicate: false }] });
    t.equal(await countOf(['acme:down-1']), 1);
  },
);
