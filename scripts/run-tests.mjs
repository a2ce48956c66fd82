// Runs the tap suite with the raw TAP reporter, echoes it, and ends with the plain line
// `N passed, N failed` counting each file's named tests (t.test blocks). Exit code: tap's,
// and 1 when no test ran at all.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const child = spawn('npx', ['tap', '--reporter=tap', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
let nestedFailuresInFile = 0;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(line + '\n');
  const nested = /^ {4}(not ok|ok) \d+/.exec(line);
  if (nested) {
    if (/# SKIP/i.test(line)) skipped++;
    else if (nested[1] === 'ok') passed++;
    else {
      failed++;
      nestedFailuresInFile++;
    }
    return;
  }
  const top = /^(not ok|ok) \d+/.exec(line);
  if (top) {
    // A file that failed without a failing named test (crash, timeout, top-level assertion) counts once.
    if (top[1] === 'not ok' && nestedFailuresInFile === 0) fileFailures++;
    nestedFailuresInFile = 0;
  }
});

child.on('close', (code) => {
  failed += fileFailures;
  const total = passed + failed;
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  if (total === 0) {
    process.stderr.write('no test ran\n');
    process.exit(1);
  }
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
