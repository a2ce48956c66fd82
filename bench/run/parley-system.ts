/**
 * Parley as the system under test: a fresh nats-server (the embedded launcher, or NATS_URL), then N
 * `parley start` child processes (every role each; with N > 1 they share the partitions by lease), each
 * with the scenario's rules in a temporary directory and its webhook channel pointed at the simulated
 * platform in the bench process. The producer posts to their ingest APIs round-robin. Stopped by PID.
 *
 * The rules: `echo` (a webhook per message.received) and `thanks` (per purchase.completed) are the direct
 * sends the tracker checks per event; the journey (welcome -> wait for a reply -> replied | nudge) and the
 * inactivity detector's re-engagement are the sends it counts by kind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, type NatsHandles } from '../../src/nats/connection.js';
import { type RunningNatsServer, startNatsServer } from '../../src/nats/embedded-server.js';
import { IngestClient } from '../e2e/load.js';
import { freePort, type ParleyChild, spawnParley } from '../e2e/parley-child.js';
import type { IngestEvent, Ledger } from '../e2e/workload.js';
import type { Scenario } from '../scenario-schema.js';
import type { Submitter } from './driver.js';

export const TENANT = 'bench';

export function writeRules(dir: string, s: Scenario): void {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {
    'echo.yaml': 'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack\n',
    'thanks.yaml': 'id: thanks\non: purchase.completed\ndo:\n  - channel: webhook\n    template: thanks\n',
  };
  if (s.journey.enabled)
    files['journey.yaml'] = [
      'kind: journey',
      'id: onboarding',
      'entry:',
      '  on: purchase.completed',
      'reentry: after_exit',
      'steps:',
      '  - id: welcome',
      '    do:',
      '      - channel: webhook',
      '        template: welcome',
      '    next: wait-reply',
      '  - id: wait-reply',
      `    wait: { for: message.received, timeout: ${s.journey.waitTimeout} }`,
      '    on_event: replied',
      '    on_timeout: nudge',
      '  - id: replied',
      '    do:',
      '      - channel: webhook',
      '        template: replied',
      '    next: done',
      '  - id: nudge',
      '    do:',
      '      - channel: webhook',
      '        template: nudge',
      '    next: done',
      '  - id: done',
      '    exit: finished',
      '',
    ].join('\n');
  if (s.inactivity.enabled) {
    files['detectors.yaml'] =
      `kind: detectors\ninactivity:\n  - id: inactive\n    after: ${s.inactivity.after}\n`;
    files['re-engage.yaml'] =
      'id: re-engage\non: detector.inactive\ndo:\n  - channel: webhook\n    template: re-engage\n';
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

export interface ParleySystem {
  natsUrl: string;
  natsPid: number | undefined;
  natsVersion: string;
  h: NatsHandles;
  children: ParleyChild[];
  submitter: Submitter;
  stopParley(): Promise<string[]>;
  stop(): Promise<void>;
}

class RoundRobin implements Submitter {
  #k = 0;
  lastError: string | undefined;
  constructor(readonly clients: IngestClient[]) {}
  async submit(events: IngestEvent[], indexes: number[]): Promise<number> {
    const c = this.clients[this.#k++ % this.clients.length]!;
    const n = await c.send(events, indexes);
    if (c.lastError) this.lastError = c.lastError;
    return n;
  }
  async close(): Promise<void> {
    for (const c of this.clients) c.close();
  }
}

export async function startParleySystem(
  s: Scenario,
  o: { dir: string; root: string; simUrl: string; ledger: Ledger },
): Promise<ParleySystem> {
  let server: RunningNatsServer | undefined;
  let natsUrl = process.env.NATS_URL;
  if (!natsUrl) {
    server = await startNatsServer({
      port: -1,
      storeDir: join(o.dir, 'nats', 'store'),
      configPath: join(o.dir, 'nats', 'nats.conf'),
      logFile: join(o.dir, 'nats', 'nats.log'),
      partitions: s.parley.partitions,
    });
    natsUrl = server.url;
  }
  const children: ParleyChild[] = [];
  let h: NatsHandles | undefined;
  const stopParley = async () => {
    const out = [];
    for (const c of children.splice(0)) out.push(await c.stop());
    return out;
  };
  try {
    h = await connectNats({ url: natsUrl, name: 'bench-run', reconnect: false });
    const rules = join(o.dir, 'rules');
    writeRules(rules, s);
    const token = `bench-${randomBytes(12).toString('hex')}`;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    for (let k = 0; k < s.parley.processes; k++) {
      const port = await freePort();
      const config = {
        dataDir: join(o.dir, `parley-${k}`),
        nats: { url: natsUrl },
        http: { host: '127.0.0.1', port },
        partitions: s.parley.partitions,
        rules,
        streams: join(o.root, 'streams'),
        log: { level: s.parley.logLevel },
        ...(s.parley.maxActors ? { runtime: { maxActors: s.parley.maxActors } } : {}),
        tenants: {
          [TENANT]: {
            auth: { tokens: [token] },
            channels: {
              webhook: {
                url: `${o.simUrl}/hooks/${TENANT}`,
                secret,
                // Parley's own token bucket is exercised but never the limit: the platform's is.
                rate: { perSecond: 1_000_000, burst: 100_000 },
              },
            },
          },
        },
      };
      const file = join(o.dir, `parley-${k}.yaml`);
      writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
      children.push(
        await spawnParley({
          configFile: file,
          url: `http://127.0.0.1:${port}`,
          cwd: o.root,
          nodeFlags: s.parley.nodeFlags.split(' ').filter(Boolean),
        }),
      );
    }
    const clients = children.map((c) => new IngestClient(c.url, token, 256, o.ledger));
    const info = h.nc.info as { version?: string } | undefined;
    const handles = h;
    return {
      natsUrl,
      natsPid: server?.pid,
      natsVersion: info?.version ?? 'unknown',
      h: handles,
      children,
      submitter: new RoundRobin(clients),
      stopParley,
      async stop() {
        await stopParley();
        await handles.nc.close().catch(() => undefined);
        await server?.stop();
      },
    };
  } catch (err) {
    await stopParley();
    await h?.nc.close().catch(() => undefined);
    await server?.stop();
    throw err;
  }
}
