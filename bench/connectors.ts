/**
 * Connector throughput against the simulated platform: sends/s per channel, end to end from actions
 * published on ACTIONS to the provider accepting them (claim -> send -> record -> outcome -> ack each).
 * Parley runs `--roles connectors` in a child process (its own event loop, as in production); this process
 * publishes the actions and runs the receivers (simulated platform, SMTP server). A local nats-server is
 * started for the run (or NATS_URL). Bounded: a fixed action count per channel and a 120 s cap each.
 * Prints one line per channel and writes bench/results/connectors-<time>.json.
 *
 *   npx tsx bench/connectors.ts [actions-per-channel]      (default 5000)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';
import { connectNats } from '../src/nats/connection.js';
import { SimPlatform } from '../src/sim/sim-platform.js';
import { action, publishActions, spawnConnectors } from '../test/helpers/connectors.js';
import { startStandaloneNats } from '../test/helpers/nats-server.js';

const ACTIONS = Number(process.argv[2] ?? 5000);
const CONVERSATIONS = 1000;
const CAP_MS = 120_000;

interface Result {
  channel: string;
  label: string;
  actions: number;
  seconds: number;
  sendsPerSecond: number;
  duplicates: number;
  delivered: number;
}

const teardowns: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => teardowns.push(fn) };

async function main(): Promise<void> {
  const nats = await startStandaloneNats({ partitions: 4 });
  teardowns.push(() => nats.stop());
  const sim = new SimPlatform({ perSecond: 1_000_000, burst: 1_000_000 });
  await sim.start();
  teardowns.push(() => sim.stop());
  let emails = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _s, cb) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        emails++;
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  teardowns.push(() => new Promise<void>((r) => smtp.close(() => r())));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const channels = {
    webhook: { url: `${sim.url}/hooks/bench`, secret: 'whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA==' },
    'platform-dm': { url: sim.url },
    push: { url: sim.url },
    'in-app': { url: sim.url },
    email: { smtp: { host: '127.0.0.1', port: smtpPort }, from: 'bench@parley.test', to: 'fan@fans.test' },
  };
  const tenants = {
    bench: { channels },
    // The same platform DM channel behind a shared KV token bucket that never runs dry: the lease overhead.
    bucket: { channels: { 'platform-dm': { url: sim.url, rate: { perSecond: 1_000_000, burst: 100_000 } } } },
  };
  const child = spawnConnectors(t, nats.url, {
    partitions: 4,
    tenants,
    log: { level: 'warn' },
    connectors: { maxInFlight: 1024, pullBatch: 512 },
  });
  await child.waitForLine(/connectors running|"level":"warn"/, 60_000).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 1500));
  const h = await connectNats({ url: nats.url, reconnect: false, name: 'bench-connectors' });
  teardowns.push(() => h.nc.close());

  const runs: Array<{ channel: keyof typeof channels; tenant: string; label: string; count: () => number }> =
    [
      {
        channel: 'webhook',
        tenant: 'bench',
        label: 'webhook (signed HTTP POST)',
        count: () => sim.stats().byChannel.webhook?.accepted ?? 0,
      },
      {
        channel: 'platform-dm',
        tenant: 'bench',
        label: 'platform-dm (Idempotency-Key)',
        count: () => sim.stats().byAccount.bench?.accepted ?? 0,
      },
      {
        channel: 'platform-dm',
        tenant: 'bucket',
        label: 'platform-dm + KV token bucket',
        count: () => sim.stats().byAccount.bucket?.accepted ?? 0,
      },
      {
        channel: 'push',
        tenant: 'bench',
        label: 'push',
        count: () => sim.stats().byChannel.push?.accepted ?? 0,
      },
      {
        channel: 'in-app',
        tenant: 'bench',
        label: 'in-app',
        count: () => sim.stats().byChannel['in-app']?.accepted ?? 0,
      },
      { channel: 'email', tenant: 'bench', label: 'email (SMTP, pooled)', count: () => emails },
    ];
  // Warm-up (JIT, connections, consumers): not measured.
  await publishActions(
    h,
    Array.from({ length: 1000 }, (_, i) =>
      action('bench', `warm${i % 100}`, Math.floor(i / 100) + 1, 'webhook'),
    ),
    4,
  );
  while ((sim.stats().byChannel.webhook?.accepted ?? 0) < 1000) await new Promise((r) => setTimeout(r, 20));
  const results: Result[] = [];
  for (const run of runs) {
    sim.reset();
    emails = 0;
    const actions = Array.from({ length: ACTIONS }, (_, i) =>
      action(
        run.tenant,
        `${run.label.replace(/[^a-z]/g, '')}${i % CONVERSATIONS}`,
        Math.floor(i / CONVERSATIONS) + 1,
        run.channel,
      ),
    );
    const started = performance.now();
    await publishActions(h, actions, 4);
    while (run.count() < ACTIONS && performance.now() - started < CAP_MS)
      await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - started) / 1000;
    const delivered = run.count();
    const r: Result = {
      channel: run.channel,
      label: run.label,
      actions: ACTIONS,
      seconds: Number(seconds.toFixed(2)),
      sendsPerSecond: Math.round(delivered / seconds),
      duplicates: sim.stats().duplicates,
      delivered,
    };
    results.push(r);
    console.log(
      `${run.label.padEnd(32)} ${String(r.sendsPerSecond).padStart(6)} sends/s  (${delivered}/${ACTIONS} in ${r.seconds} s, duplicates ${r.duplicates})`,
    );
    await new Promise((r2) => setTimeout(r2, 500));
  }
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `connectors-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ actionsPerChannel: ACTIONS, conversations: CONVERSATIONS, results }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
}

try {
  await main();
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => undefined);
}
