/**
 * Runs one fault scenario in this process and prints its result as one JSON line prefixed `FAULT-RESULT `
 * (read by scripts/run-faults.mjs). Usage: node --import tsx test/faults/run-scenario.ts <name>
 * The runner bounds the run in time (it kills this process group past the scenario's timeout).
 */
import { formatReport } from './checker.js';
import type { Scenario } from './harness.js';

const name = process.argv[2];
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: run-scenario.ts <scenario-name>\n');
  process.exit(2);
}
const { scenario } = (await import(`./scenarios/${name}.ts`)) as { scenario: Scenario };
const started = Date.now();
try {
  const result = await scenario.run();
  const ok = result.report.ok && result.failures.length === 0;
  process.stdout.write(`${formatReport(result.report)}\n`);
  for (const f of result.failures) process.stdout.write(`  failure: ${f}\n`);
  for (const n of result.notes) process.stdout.write(`  note: ${n}\n`);
  if (!ok && result.logs) process.stdout.write(`  logs kept in ${result.logs}\n`);
  process.stdout.write(
    `FAULT-RESULT ${JSON.stringify({
      name,
      ok,
      ms: Date.now() - started,
      events: result.events,
      faults: result.faults,
      summary: result.report.summary,
      violations: result.report.violations.slice(0, 50),
      failures: result.failures,
      notes: result.notes,
      logs: ok ? undefined : result.logs,
    })}\n`,
  );
  process.exit(ok ? 0 : 1);
} catch (err) {
  process.stdout.write(
    `FAULT-RESULT ${JSON.stringify({ name, ok: false, ms: Date.now() - started, error: String((err as Error).stack ?? err) })}\n`,
  );
  process.exit(1);
}
