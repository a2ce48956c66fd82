// Runs the tap suite with the raw TAP reporter, echoes it, and ends with the plain line
// `N passed, N failed` counting each file's named tests (t.test blocks). Before that line it repeats
// each failure (file, test, failing assertions with their diagnostics), so the end of a long log says
// what failed. Exit code: tap's, and 1 when no test ran at all.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const child = spawn('npx', ['tap', '--reporter=tap', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
let nestedFailuresInFile = 0;
// What the failure summary needs: the file and test being run, and the lines printed inside each.
let file = '';
let fileLines = [];
let testLines = [];
const failures = [];
const MAX_LINES = 60;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const fileStart = /^# Subtest: (.*)$/.exec(line);
  if (fileStart) {
    file = fileStart[1];
    fileLines = [];
    testLines = [];
    return;
  }
  fileLines.push(line);
  if (fileLines.length > MAX_LINES) fileLines.shift();
  if (/^ {4}# Subtest: /.test(line)) testLines = [];
  else testLines.push(line);
  const nested = /^ {4}(not ok|ok) \d+/.exec(line);
  if (nested) {
    if (/# SKIP/i.test(line)) skipped++;
    else if (nested[1] === 'ok') passed++;
    else {
      failed++;
      nestedFailuresInFile++;
      failures.push({ file, test: line.trim(), lines: failingAssertions(testLines) });
    }
    return;
  }
  const top = /^(not ok|ok) \d+/.exec(line);
  if (top) {
    // A file that failed without a failing named test (crash, timeout, top-level assertion) counts once.
    if (top[1] === 'not ok' && nestedFailuresInFile === 0) {
      fileFailures++;
      failures.push({ file, test: line.trim(), lines: fileLines.slice(0, -1) });
    }
    nestedFailuresInFile = 0;
  }
});

/** The failing assertions among a test's lines, each with its YAML diagnostics (up to MAX_LINES in all). */
function failingAssertions(testLines) {
  const out = [];
  let inFailure = false;
  for (const l of testLines) {
    if (/^ {8}not ok \d+/.test(l)) inFailure = true;
    else if (/^ {8}(ok \d+|1\.\.)/.test(l)) inFailure = false;
    if (inFailure && out.length < MAX_LINES) out.push(l);
  }
  return out;
}

child.on('close', (code) => {
  failed += fileFailures;
  const total = passed + failed;
  if (failures.length > 0) {
    process.stdout.write(`\n# ${failures.length} failing (repeated from above):\n`);
    for (const f of failures) {
      process.stdout.write(`# ${f.file}: ${f.test}\n`);
      for (const l of f.lines) process.stdout.write(`#   ${l}\n`);
    }
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  if (total === 0) {
    process.stderr.write('no test ran\n');
    process.exit(1);
  }
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
