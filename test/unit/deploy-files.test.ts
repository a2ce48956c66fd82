/**
 * deploy-files: the container image's files hold together without a Docker engine (none on these machines;
 * the files are also linted, see README "Docker"): the default container config and the compose cluster's
 * config load with the real loader, the compose file has three NATS nodes and three partition owners, the
 * partition counts agree, and the Dockerfile runs as a non-root user with a health check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ROOT } from '../helpers/parley.js';

const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

t.test(
  'deploy-files - the container default: every role, embedded NATS, 0.0.0.0, sample rules',
  async (t) => {
    const { config } = loadConfig({ file: join(ROOT, 'deploy/parley.container.yaml'), env: {} });
    t.equal(config.http.host, '0.0.0.0', 'EXPOSE 8080 is reachable');
    t.equal(config.http.port, 8080);
    t.equal(config.nats.url, undefined, 'the embedded nats-server');
    t.equal(config.rules, '/app/rules');
    t.equal(config.dataDir, '/var/lib/parley', 'the volume the non-root user owns');
    t.ok(config.simPlatform.enabled, 'the sample tenant has somewhere to deliver');
  },
);

t.test('deploy-files - compose: three NATS nodes, three partition owners, one partition count', async (t) => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
    services: Record<string, { command?: string[]; image?: string }>;
  };
  const nats = Object.keys(compose.services).filter((s) => /^nats-\d$/.test(s));
  t.same(nats, ['nats-1', 'nats-2', 'nats-3']);
  const owners = Object.entries(compose.services).filter(([, s]) =>
    s.command?.join(' ').includes('--roles actors,connectors'),
  );
  t.equal(owners.length, 3);
  const { config } = loadConfig({ file: join(ROOT, 'deploy/parley.cluster.yaml'), env: {} });
  t.equal(config.nats.url, 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222');
  const mapped = /partition\((\d+),1,2\)/.exec(read('deploy/nats-cluster.conf'));
  t.equal(Number(mapped?.[1]), config.partitions, 'the server maps to as many partitions as Parley expects');
  for (const node of nats) t.match(read('deploy/nats-cluster.conf'), `nats-route://${node}:6222`);
});

t.test('deploy-files - Dockerfile: non-root, health check, default config; .dockerignore', async (t) => {
  const dockerfile = read('Dockerfile');
  const user = /^USER (\S+)$/m.exec(dockerfile);
  t.ok(user && user[1] !== 'root' && user[1] !== '0', 'runs as a non-root user');
  t.match(dockerfile, /^HEALTHCHECK .*\n.*\/healthz/m);
  t.match(dockerfile, /COPY deploy\/parley\.container\.yaml \.\/parley\.yaml/);
  t.match(dockerfile, /npm ci /);
  const ignored = read('.dockerignore').split('\n');
  for (const p of ['.git', 'node_modules', '.parley', 'dist', '*.creds'])
    t.ok(ignored.includes(p), `ignores ${p}`);
});

t.test('deploy-files - the Grafana dashboard queries only series Parley registers', async (t) => {
  const { readdirSync, statSync } = await import('node:fs');
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/'(parley_[a-z_]+)'/g)) names.add(m[1]!);
    }
  };
  walk(join(ROOT, 'src'));
  const dashboard = JSON.parse(read('deploy/grafana/parley.json')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  t.ok(dashboard.panels.length >= 10);
  for (const panel of dashboard.panels)
    for (const { expr } of panel.targets)
      for (const [series] of expr.matchAll(/parley_[a-z_]+/g)) {
        const base = series.replace(/_(bucket|sum|count)$/, '');
        t.ok(names.has(base), `${panel.title}: ${series} is registered`);
      }
  t.match(JSON.stringify(dashboard), /process_cpu_seconds_total/, "Node's metrics under their usual names");
});
