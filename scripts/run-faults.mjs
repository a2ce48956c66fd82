// Runs the fault scenarios of test/faults/scenarios/ (each in its own process group, bounded by the
// scenario's timeout), N times each, prints a table and exits 1 on any violation.
//
//   npm run test:faults                       every scenario once
//   npm run test:faults -- --runs 5           each five times
//   npm run test:faults -- --fast             the CI subset (scenarios tagged `fast`)
//   npm run test:faults -- --only webhook-503,duplicate-flood
//   npm run test:faults -- --json             one JSON line per run as well
//   npm run test:faults -- --verbose          each passing run's summary and notes too
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'test/faults/scenarios');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
if (flag('--help')) {
  process.stdout.write(
    'usage: run-faults.mjs [--runs N] [--fast] [--tag TAG] [--only a,b] [--list] [--json] [--verbose] [--stop-on-failure]\n',
  );
  process.exit(0);
}
const runs = Number(value('--runs', '1'));
if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
  process.stderr.write('--runs takes an integer from 1 to 100\n');
  process.exit(2);
}

/** Scenario metadata, read by importing each file through tsx in a child (names, tags, timeouts). */
async function listScenarios() {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  const code = `
    const names = ${JSON.stringify(names)};
    const out = [];
    for (const n of names) {
      const { scenario } = await import(${JSON.stringify(dir)} + '/' + n + '.ts');
      out.push({ file: n, name: scenario.name, tags: scenario.tags, timeoutMs: scenario.timeoutMs, description: scenario.description });
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const text = await new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
    });
    child.on('exit', (code) =>
      code === 0 ? res(buf) : rej(new Error(`listing scenarios failed (${code})`)),
    );
  });
  return JSON.parse(text);
}

function runOnce(s) {
  return new Promise((res) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/run-scenario.ts', s.file], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a timeout ends it and every server and parley it started
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, s.timeoutMs + 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid, 'SIGKILL'); // leftovers of the group, if any
      } catch {}
      const line = out.split('\n').find((l) => l.startsWith('FAULT-RESULT '));
      let result;
      if (line) result = JSON.parse(line.slice('FAULT-RESULT '.length));
      else
        result = {
          name: s.name,
          ok: false,
          ms: Date.now() - started,
          error: signal
            ? `killed (${signal}) after the ${s.timeoutMs} ms bound`
            : `exited ${code} without a result`,
        };
      result.output = out
        .split('\n')
        .filter((l) => l && !l.startsWith('FAULT-RESULT '))
        .join('\n');
      result.stderr = err.split('\n').slice(-20).join('\n');
      res(result);
    });
  });
}

const all = await listScenarios();
if (flag('--list')) {
  for (const s of all)
    process.stdout.write(`${s.name.padEnd(28)} ${s.tags.join(',').padEnd(24)} ${s.description}\n`);
  process.exit(0);
}
const only = value('--only', '').split(',').filter(Boolean);
const tag = flag('--fast') ? 'fast' : value('--tag', '');
const selected = all.filter(
  (s) => (only.length === 0 || only.includes(s.name)) && (!tag || s.tags.includes(tag)),
);
if (selected.length === 0) {
  process.stderr.write('no scenario selected\n');
  process.exit(2);
}

const rows = [];
let failed = false;
const t0 = Date.now();
outer: for (const s of selected) {
  const row = {
    name: s.name,
    runs: 0,
    passed: 0,
    events: 0,
    faults: 0,
    lost: 0,
    dup: 0,
    redeliv: 0,
    order: 0,
    other: 0,
    ms: 0,
  };
  rows.push(row);
  for (let i = 1; i <= runs; i++) {
    process.stdout.write(`# ${s.name} run ${i}/${runs} ...`);
    const r = await runOnce(s);
    row.runs++;
    row.ms += r.ms ?? 0;
    const sum = r.summary ?? {};
    row.events += r.events ?? 0;
    row.faults += r.faults ?? 0;
    row.lost += sum.lost ?? 0;
    row.dup += sum.duplicates ?? 0;
    row.redeliv += sum.redeliveries ?? 0;
    row.order += sum.orderViolations ?? 0;
    row.other +=
      (sum.badSignatures ?? 0) +
      (sum.phantoms ?? 0) +
      (sum.stateMismatches ?? 0) +
      (r.failures?.length ?? 0) +
      (r.error ? 1 : 0);
    if (r.ok) row.passed++;
    process.stdout.write(` ${r.ok ? 'ok' : 'FAILED'} (${((r.ms ?? 0) / 1000).toFixed(1)} s)\n`);
    if (r.ok && flag('--verbose')) {
      process.stdout.write(
        `${r.output
          .split('\n')
          .filter((l) => !l.includes('note: redelivery'))
          .join('\n')}\n`,
      );
    }
    if (!r.ok) {
      failed = true;
      process.stdout.write(`${r.output}\n${r.error ? `  error: ${r.error}\n` : ''}`);
      if (r.error && r.stderr) process.stdout.write(`  stderr:\n${r.stderr}\n`);
    }
    if (flag('--json')) {
      const { output, stderr, ...rest } = r;
      process.stdout.write(`${JSON.stringify(rest)}\n`);
    }
    if (!r.ok && flag('--stop-on-failure')) break outer;
  }
}

const header = [
  'scenario',
  'runs',
  'passed',
  'events',
  'faults',
  'lost',
  'duplicates',
  'redeliveries',
  'order',
  'other',
  'avg s',
];
const table = rows.map((r) => [
  r.name,
  r.runs,
  r.passed,
  r.events,
  r.faults,
  r.lost,
  r.dup,
  r.redeliv,
  r.order,
  r.other,
  (r.ms / Math.max(1, r.runs) / 1000).toFixed(1),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
const fmt = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
process.stdout.write(`\n${fmt(header)}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
for (const row of table) process.stdout.write(`${fmt(row)}\n`);
process.stdout.write(
  `\n${rows.reduce((a, r) => a + r.passed, 0)}/${rows.reduce((a, r) => a + r.runs, 0)} runs passed in ${((Date.now() - t0) / 1000).toFixed(0)} s` +
    ' (other = bad signatures, phantoms, state mismatches, failed assertions, errors; redeliveries of one webhook-id are allowed after a crash)\n',
);
process.exit(failed ? 1 : 0);
