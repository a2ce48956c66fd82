import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startTestNats } from '../helpers/nats-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The CLI runs from source through tsx's loader (resolved here: the child's cwd is a temporary directory).
const tsx = import.meta.resolve('tsx');
const nats = await startTestNats(t, { partitions: 8 });
const dataDir = mkdtempSync(join(tmpdir(), 'parley-cli-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));

function writeConfig(name: string, extra: string): string {
  const file = join(dataDir, name);
  writeFileSync(
    file,
    [
      `dataDir: ${JSON.stringify(join(dataDir, name.replace('.yaml', '')))}`,
      'partitions: 8',
      `streams: ${JSON.stringify(join(root, 'streams'))}`,
      extra,
      '',
    ].join('\n'),
  );
  return file;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function parley(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], {
      cwd: dataDir,
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

interface Report {
  changes: Array<{ kind: string; name: string; action: string; diff: string[] }>;
}

const external = writeConfig('external.yaml', `nats: { url: ${JSON.stringify(nats.url)} }`);

t.test('streams-cli - apply creates, then reports unchanged; show lists message counts', async (t) => {
  const first = await parley(['streams', 'apply', '--config', external, '--json']);
  t.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout) as Report;
  t.ok(report.changes.some((c) => c.name === 'EVENTS' && c.action === 'created'));

  const dry = await parley(['streams', 'apply', '--config', external, '--dry-run']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /stream EVENTS: would be unchanged/);
  t.match(dry.stdout, /0 created, 0 updated, \d+ unchanged \(dry run/);

  const show = await parley(['streams', 'show', '--config', external, '--json']);
  t.equal(show.code, 0, show.stderr);
  const status = JSON.parse(show.stdout) as {
    partitions: number;
    entries: Array<{ name: string; exists: boolean; messages: number }>;
  };
  t.equal(status.partitions, 8);
  t.ok(status.entries.every((e) => e.exists));
  // The deployment facts: the partition count and the dedupe secret provisioning creates.
  t.ok(status.entries.some((e) => e.name === 'parley-deployment' && e.messages === 2));
  const text = await parley(['streams', 'show', '--config', external]);
  t.match(text.stdout, /^partitions: 8$/m);
  t.match(text.stdout, /^stream\s+EVENTS\s+0\s+/m);
  t.notMatch(text.stdout, /"level"/, 'no log lines on stdout');
  const logLines = text.stderr.split('\n').filter(Boolean);
  t.ok(
    logLines.every((l) => (JSON.parse(l) as { level: string }).level === 'warn'),
    'stderr carries only the server-version warnings',
  );
});

t.test('streams-cli - a refused destructive change exits 2 and names --allow-destructive', async (t) => {
  const refused = await parley(['streams', 'apply', '--config', external], { PARLEY_PARTITIONS: '16' });
  t.equal(refused.code, 2);
  t.match(refused.stderr, /refusing destructive changes/);
  t.match(refused.stderr, /--allow-destructive/);
  t.equal(refused.stdout, '');
  const usage = await parley(['streams', 'apply', '--no-such-flag']);
  t.equal(usage.code, 2, 'unknown flags are usage errors');
});

t.test('streams-cli - without nats.url it runs the embedded server and stops it', async (t) => {
  const embedded = writeConfig('embedded.yaml', 'nats: { embedded: { port: -1 } }');
  const dir = join(dataDir, 'embedded');
  const run = await parley(['streams', 'apply', '--config', embedded, '--json']);
  t.equal(run.code, 0, run.stderr);
  t.ok((JSON.parse(run.stdout) as Report).changes.every((c) => c.action === 'created'));
  t.ok(existsSync(join(dir, 'nats.conf')), 'config at <dataDir>/nats.conf');
  t.match(readFileSync(join(dir, 'nats.conf'), 'utf8'), /partition\(8,1,2\)/);
  t.match(readFileSync(join(dir, 'nats.log'), 'utf8'), /Server is ready/);
  t.ok(existsSync(join(dir, 'nats', 'jetstream')), 'store under <dataDir>/nats');
  t.same(
    readdirSync(dir).filter((f) => f.endsWith('.ports')),
    [],
    'the server was stopped (its ports file is gone)',
  );
  const again = await parley(['streams', 'show', '--config', embedded, '--json']);
  t.equal(again.code, 0, again.stderr);
  t.ok(
    (JSON.parse(again.stdout) as { entries: Array<{ exists: boolean }> }).entries.every((e) => e.exists),
    'state persisted in the store',
  );
});
