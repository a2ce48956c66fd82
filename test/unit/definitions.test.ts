import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { MAX_INBOX_IDLE_MINUTES } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors/app-error.js';
import { loadDefinitions } from '../../src/nats/definitions.js';

const streamsDir = fileURLToPath(new URL('../../streams', import.meta.url));
const DAY = 86_400_000_000_000;
const MINUTE = 60_000_000_000;

function tempDir(t: { teardown(fn: () => unknown): void }, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-defs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const stream = (over: Record<string, unknown> = {}) => ({
  name: 'EVENTS',
  description: 'events',
  subjects: ['evt.>'],
  retention: 'limits',
  storage: 'file',
  max_age: 7 * DAY,
  duplicate_window: 10 * MINUTE,
  num_replicas: 1,
  ...over,
});
const bucket = { bucket: 'parley-state', description: 'state', history: 1, max_age: 0, replicas: 1 };

function issuesOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return '';
}

t.test('definitions - the shipped streams/ directory loads with the agreed settings', async (t) => {
  const defs = loadDefinitions(streamsDir);
  const byName = new Map(defs.streams.map((s) => [s.config.name, s.config]));
  t.same([...byName.keys()].sort(), ['ACTIONS', 'AUDIT', 'DLQ', 'ESCALATIONS', 'EVENTS']);
  t.same(byName.get('EVENTS')?.subjects, ['evt.>']);
  t.same(byName.get('ESCALATIONS')?.subjects, ['esc.>']);
  t.same(byName.get('ACTIONS')?.subjects, ['act.>']);
  t.same(byName.get('AUDIT')?.subjects, ['audit.>']);
  t.same(byName.get('DLQ')?.subjects, ['dlq.>']);
  t.equal(byName.get('EVENTS')?.max_age, 7 * DAY);
  // Approved actions carry their approval record: ACTIONS is the approvals' audit, kept as long as AUDIT.
  for (const name of ['ACTIONS', 'AUDIT', 'ESCALATIONS', 'DLQ'])
    t.equal(byName.get(name)?.max_age, 30 * DAY, name);
  for (const s of byName.values()) {
    t.equal(s.storage, 'file', `${s.name} storage`);
    t.equal(s.retention, 'limits', `${s.name} retention`);
    t.equal(s.duplicate_window, 10 * MINUTE, `${s.name} duplicate_window`);
    t.equal(s.num_replicas, 1, `${s.name} replicas`);
    t.ok(s.description.length > 20, `${s.name} has a description an operator can read`);
  }
  t.same(defs.buckets.map((b) => b.bucket).sort(), [
    'parley-consent',
    'parley-control',
    'parley-deployment',
    'parley-executions',
    'parley-inbox-sessions',
    'parley-leases',
    'parley-replay',
    'parley-rules',
    'parley-state',
    'parley-timers',
    'parley-tokens',
  ]);
  const buckets = new Map(defs.buckets.map((b) => [b.bucket, b]));
  t.equal(buckets.get('parley-state')?.history, 1);
  t.equal(buckets.get('parley-rules')?.history, 10);
  t.equal(buckets.get('parley-executions')?.max_age, 7 * DAY);
  t.equal(buckets.get('parley-replay')?.max_age, 10 * MINUTE, 'replay guard outlives the 5-minute tolerance');
  t.equal(
    buckets.get('parley-inbox-sessions')?.max_age,
    MAX_INBOX_IDLE_MINUTES * MINUTE,
    'an unused inbox session is kept as long as the longest idle time allowed',
  );
  t.ok(
    defs.buckets.every((b) => b.replicas === 1),
    'CAS buckets stay at one replica (2.9.x)',
  );
});

t.test('definitions - errors name the file and the field, all at once', async (t) => {
  const dir = tempDir(t, {
    'EVENTS.json': stream({ max_age: -1, storage: 'disk' }),
    'AUDIT.json': stream({ name: 'AUDIT', subjects: ['audit.>'], max_agee: 5 }),
    'buckets.json': [bucket, { ...bucket, history: 100 }],
  });
  const message = issuesOf(() => loadDefinitions(dir));
  t.match(message, /invalid stream definitions/);
  t.match(message, new RegExp(`${join(dir, 'EVENTS.json')}: max_age`));
  t.match(message, new RegExp(`${join(dir, 'EVENTS.json')}: storage`));
  t.match(message, new RegExp(`${join(dir, 'AUDIT.json')}.*max_agee`));
  t.match(message, new RegExp(`${join(dir, 'buckets.json')}: \\[1\\]\\.history`));
  const twice = tempDir(t, { 'EVENTS.json': stream(), 'buckets.json': [bucket, bucket] });
  t.match(
    issuesOf(() => loadDefinitions(twice)),
    /buckets\.json: \[1\]\.bucket: "parley-state" is listed twice/,
  );
});

t.test('definitions - refuses settings that need nats-server 2.10', async (t) => {
  const dir = tempDir(t, {
    'EVENTS.json': stream({ subject_transform: { src: 'a.>', dest: 'b.>' }, metadata: { a: 'b' } }),
    'buckets.json': [bucket],
  });
  const message = issuesOf(() => loadDefinitions(dir));
  t.match(message, /EVENTS\.json: subject_transform: needs nats-server 2\.10/);
  t.match(message, /EVENTS\.json: metadata: needs nats-server 2\.10/);
});

t.test('definitions - checks names, windows, overlaps and JSON syntax', async (t) => {
  const dir = tempDir(t, {
    'EVENTS.json': stream({ name: 'EVENTZ', duplicate_window: 8 * DAY }),
    'OTHER.json': stream({ name: 'OTHER', subjects: ['evt.*.acme.>'] }),
    'BROKEN.json': '{ "name": ',
    'consumers.json': 'not for this loader',
    'buckets.json': [bucket],
  });
  const message = issuesOf(() => loadDefinitions(dir));
  t.match(message, /EVENTS\.json: name: must be "EVENTS"/);
  t.match(message, /EVENTS\.json: duplicate_window: must not be longer than max_age/);
  t.match(message, /BROKEN\.json: /);
  t.notMatch(message, /consumers\.json/, 'files of other loaders are left alone');
  const overlapDir = tempDir(t, {
    'EVENTS.json': stream(),
    'OTHER.json': stream({ name: 'OTHER', subjects: ['evt.*.acme.>'] }),
    'buckets.json': [bucket],
  });
  t.match(
    issuesOf(() => loadDefinitions(overlapDir)),
    /OTHER\.json: subjects: "evt\.\*\.acme\.>" overlaps "evt\.>"/,
  );
  const noBuckets = tempDir(t, { 'EVENTS.json': stream() });
  t.match(
    issuesOf(() => loadDefinitions(noBuckets)),
    /buckets\.json: missing/,
  );
});
