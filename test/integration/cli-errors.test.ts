/**
 * cli-errors: every failure of the `parley` CLI is one line naming what is wrong and the fix (a list only
 * when several problems are reported at once), exit 2 for usage and 1 for failure, JSON on stdout with
 * --json, no stack traces. Runs the CLI from source as a child process; needs no NATS server (the one
 * connection test points at a closed loopback port).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = import.meta.resolve('tsx');
const dir = mkdtempSync(join(tmpdir(), 'parley-cli-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const config = join(dir, 'parley.yaml');
writeFileSync(
  config,
  [
    `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
    `rules: ${JSON.stringify(join(root, 'rules'))}`,
    `streams: ${JSON.stringify(join(root, 'streams'))}`,
    'tenants:',
    '  acme:',
    '    auth: { tokens: [ "dev-token-acme-0123456789" ] }',
    '    channels:',
    '      webhook: { url: "http://127.0.0.1:9/hook", secret: "whsec_dGVzdHRlc3R0ZXN0dGVzdA==" }',
    '      platform-dm: { url: "http://127.0.0.1:9" }',
    '',
  ].join('\n'),
);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function parley(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PARLEY_')));
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], {
      cwd: dir,
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

function noStack(t: Test, run: Run): void {
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  t.notMatch(run.stderr, /ZodError|ENOENT:/, 'no raw library error');
}

t.test('cli-errors - an invalid choice is a one-line usage error (exit 2) naming the choices', async (t) => {
  const run = await parley(['escalations', 'resolve', 'acme.c1.3', '--outcome', 'bogus', '-c', config]);
  t.equal(run.code, 2);
  t.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  t.match(run.stderr, /'bogus' is invalid\. Allowed choices are resume, close, reply/);
  t.match(run.stderr, /parley escalations resolve --help/);
  noStack(t, run);
});

t.test('cli-errors - a missing argument of a nested command exits 2', async (t) => {
  const run = await parley(['conversation', 'show', 'acme', '-c', config]);
  t.equal(run.code, 2);
  t.match(
    run.stderr,
    /^parley: missing required argument 'conversation' \(run `parley conversation show --help`/,
  );
  const unknown = await parley(['bogus']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command 'bogus'/);
});

t.test(
  'cli-errors - rules validate on a missing directory names it and the fix; --json on failure',
  async (t) => {
    const run = await parley(['rules', 'validate', join(dir, 'nope'), '-c', config]);
    t.equal(run.code, 2);
    t.match(run.stderr, /rules directory not found: .*nope: dir: pass an existing directory/);
    t.equal(run.stderr.trim().split('\n').length, 1);
    noStack(t, run);
    const json = await parley(['rules', 'validate', join(dir, 'nope'), '-c', config, '--json']);
    t.equal(json.code, 2);
    const body = JSON.parse(json.stdout) as { error: { code: string; message: string; issues: unknown[] } };
    t.equal(body.error.code, 'CONFIG_INVALID');
    t.match(body.error.message, /rules directory not found/);
    t.equal(body.error.issues.length, 1);
  },
);

t.test(
  'cli-errors - every problem of a rule set at once: YAML syntax with line:column and channels',
  async (t) => {
    const rules = join(dir, 'bad-rules');
    mkdirSync(rules, { recursive: true });
    writeFileSync(join(rules, 'y.yaml'), 'id: y\non: [message.received\ndo:\n  - channel: webhook\n');
    writeFileSync(
      join(rules, 'b.yaml'),
      'id: b\non: message.received\ndo:\n  - channel: sms\n    template: x\n',
    );
    const run = await parley(['rules', 'validate', rules, '-c', config]);
    t.equal(run.code, 2);
    t.match(run.stderr, /invalid rules \(2 issues\)/);
    t.match(run.stderr, /y\.yaml:3:1: .*\(YAML syntax\)/);
    t.match(run.stderr, /b\.yaml:4 do\.0\.channel: rule "b" sends on channel "sms"/);
    const json = await parley(['rules', 'validate', rules, '-c', config, '--json']);
    t.equal((JSON.parse(json.stdout) as { error: { issues: unknown[] } }).error.issues.length, 2);
  },
);

t.test('cli-errors - pause of an unconfigured tenant is refused, not silently set', async (t) => {
  const run = await parley(['pause', 'tenant:unknown', '-c', config]);
  t.equal(run.code, 2);
  t.match(run.stderr, /unknown tenant "unknown" in scope "tenant:unknown": scope: configured tenants: acme/);
  const resume = await parley(['resume', 'conversation:ghost/c1', '-c', config]);
  t.equal(resume.code, 2);
  t.match(resume.stderr, /unknown tenant "ghost"/);
});

t.test(
  'cli-errors - an invalid PARLEY_* value names the variable; an unknown one is a warning',
  async (t) => {
    const run = await parley(['partitions', '-c', config], { PARLEY_HTTP__PORT: 'abc' });
    t.equal(run.code, 2);
    t.match(run.stderr, /PARLEY_HTTP__PORT="abc" \(environment\): .*expected number/);
    t.notMatch(run.stderr, /parley\.yaml:\d/, 'not blamed on the file');
    const ok = await parley(['rules', 'validate', '-c', config], { PARLEY_DIR: '/somewhere' });
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stderr, /warning: PARLEY_DIR is not a Parley setting and is ignored/);
    t.match(ok.stdout, /^ok: version/);
  },
);

t.test('cli-errors - an unreachable NATS URL is one line naming the URL (exit 1)', async (t) => {
  // A port that was just free and is closed again: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const url = `nats://127.0.0.1:${port}`;
  const run = await parley(['switches', '-c', config, '--nats-url', url]);
  t.equal(run.code, 1);
  t.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  t.match(run.stderr, new RegExp(`cannot connect to NATS at ${url}: .*--nats-url`));
  noStack(t, run);
  const json = await parley(['switches', '-c', config, '--nats-url', url, '--json']);
  t.equal(json.code, 1);
  t.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'NATS_UNAVAILABLE');
});

t.test('cli-errors - replay on a missing rules directory is a usage error naming --rules', async (t) => {
  const run = await parley(['replay', '--rules', join(dir, 'nope'), '-c', config]);
  t.equal(run.code, 2);
  t.match(run.stderr, /rules directory not found: .*nope: --rules: pass an existing directory/);
  noStack(t, run);
});
