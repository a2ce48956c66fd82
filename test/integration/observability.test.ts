/**
 * Every process observable: `parley start --http-port` gives a process without the ingest role /healthz,
 * /readyz and /metrics (its own registry); /readyz, there and on the ingest API, is 503 with a JSON reason
 * while a process that should own partitions runs none (the case that used to answer 200 with "0 partitions
 * running here" after a second process had fenced it).
 */
import t from 'tap';
import { type Parley, start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  connect,
  FIXTURE_RULES,
  spawnCli,
  startParley,
  TEST_CONFIG_FILE,
  testConfig,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 4;

interface Ready {
  status: number;
  body: { status: string; reason?: string; checks: Array<{ name: string; ok: boolean; detail?: string }> };
}

async function readyz(url: string): Promise<Ready> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Ready['body'] };
}

const allRunning = (p: Parley) => p.actors!.status().partitions.every((x) => x.state === 'running');

t.test(
  'observability - a process without ingest serves /healthz, /readyz and /metrics on its http port',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const config = testConfig(t, nats.url, PARTITIONS);
    const p = await start(config, {
      roles: ['actors', 'connectors'],
      opsHttp: true,
      logger: createLogger({ level: 'silent' }),
      drainMs: 3000,
    });
    t.teardown(() => p.stop());
    t.match(p.opsUrl, /^http:\/\/127\.0\.0\.1:\d+$/, 'a free port was bound (http.port 0)');
    t.equal(p.ingest, undefined, 'no ingest API');
    const url = p.opsUrl!;

    const health = await fetch(`${url}/healthz`);
    t.equal(health.status, 200);
    t.same(await health.json(), { status: 'ok' });

    const ready = await waitFor('ready', async () => {
      const r = await readyz(url);
      return r.status === 200 ? r : undefined;
    });
    t.match(ready.body, { status: 'ready' });
    t.match(
      ready.body.checks.find((c) => c.name === 'actors'),
      { ok: true, detail: new RegExp(`^${PARTITIONS} of ${PARTITIONS} partitions running here`) },
    );
    t.ok(
      ready.body.checks.some((c) => c.name === 'nats' && c.ok),
      'NATS connection checked',
    );

    const h = await connect(t, nats.url);
    await h.js.publish('dlq.webhook.acme', new Uint8Array([0x80]));
    const metrics = await fetch(`${url}/metrics`);
    t.equal(metrics.status, 200);
    t.match(metrics.headers.get('content-type'), /^text\/plain/);
    const text = await metrics.text();
    t.match(text, /^process_cpu_user_seconds_total /m, "the process's registry (default metrics)");
    t.match(
      text,
      /^nodejs_eventloop_lag_seconds /m,
      'under their conventional names (stock Node dashboards)',
    );
    t.notMatch(text, /^parley_process_/m);
    // Read from the server when scraped: the lag of each owned partition, and the DLQ depth.
    for (let p = 0; p < PARTITIONS; p++)
      t.match(
        text,
        new RegExp(`^parley_consumer_pending_messages\\{stage="events",partition="${p}"\\} \\d+$`, 'm'),
      );
    t.match(text, /^parley_consumer_ack_pending_messages\{stage="actions",partition="0"\} \d+$/m);
    t.match(text, /^parley_dlq_messages\{channel="webhook"\} 1$/m, 'the DLQ depth by channel');
    t.match(
      text,
      new RegExp(`^parley_partition_owned ${PARTITIONS}$`, 'm'),
      'and the runtime metrics of its actors',
    );

    t.equal((await fetch(`${url}/v1/events`, { method: 'POST' })).status, 404, 'no ingest routes here');
  },
);

t.test(
  'observability - /readyz is 503 with a reason while a process that should own partitions owns none',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const pinned = (extra: Record<string, unknown> = {}) =>
      testConfig(t, nats.url, PARTITIONS, { runtime: { partitions: 'all' }, ...extra });

    // First: every role, pinned to all partitions; its readiness is the ingest API's.
    const first = await startParley(t, pinned());
    await waitFor('first runs every partition', async () => allRunning(first));
    t.equal((await readyz(first.ingest!.url)).status, 200, 'ready while it owns them');

    // Second: actors and connectors only, also pinned to all: it takes them over and fences the first.
    const second = await start(pinned(), {
      roles: ['actors', 'connectors'],
      opsHttp: true,
      logger: createLogger({ level: 'silent' }),
      drainMs: 3000,
    });
    t.teardown(() => second.stop());
    await waitFor('second runs every partition', async () => allRunning(second));
    const fenced = await waitFor('first reported not ready', async () => {
      const r = await readyz(first.ingest!.url);
      return r.status === 503 ? r : undefined;
    });
    t.match(fenced.body, {
      status: 'not_ready',
      reason: new RegExp(
        `actors: owns no partition: 0 of ${PARTITIONS} partitions running here \\(${PARTITIONS} fenced\\)`,
      ),
    });
    t.equal((await readyz(second.opsUrl!)).status, 200, 'the second is ready');

    // Third takes them from the second: now the ops listener of the second answers 503.
    const third = await startParley(t, pinned());
    await waitFor('third runs every partition', async () => allRunning(third));
    const second503 = await waitFor('second reported not ready', async () => {
      const r = await readyz(second.opsUrl!);
      return r.status === 503 ? r : undefined;
    });
    t.match(second503.body.reason, /actors: owns no partition/);
    t.match(second503.body.checks, [{ name: 'nats', ok: true }], 'the other checks still pass');
  },
);

t.test('observability - parley start --roles actors,connectors --http-port 0 logs its URL', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const env = {
    PARLEY_CONFIG: TEST_CONFIG_FILE,
    PARLEY_NATS__URL: nats.url,
    PARLEY_PARTITIONS: String(PARTITIONS),
    PARLEY_RULES: FIXTURE_RULES,
    PARLEY_RUNTIME__LEASE_TTL_MS: '1000',
  };
  const cli = spawnCli(t, ['start', '--roles', 'actors,connectors', '--http-port', '0'], env);
  const line = await cli.waitForLine(/health and metrics listening/, 60_000);
  const url = String((JSON.parse(line) as { url: string }).url);
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.equal((await fetch(`${url}/healthz`)).status, 200);
  await waitFor('ready', async () => (await readyz(url)).status === 200);
  t.match(await (await fetch(`${url}/metrics`)).text(), /parley_/);
  cli.proc.kill('SIGTERM');
  t.equal(await cli.exited, 0, 'stops cleanly');

  const bad = spawnCli(t, ['start', '--http-port', 'eighty'], env);
  t.equal(await bad.exited, 2, 'a port that is not a number is a usage error');
  t.match(bad.lines.join('\n'), /--http-port: "eighty": a port from 0/);
});
