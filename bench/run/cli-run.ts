/**
 * `parley bench <scenario.yaml>` behind the CLI command: loads and validates the scenario, runs it with
 * the requested peers, writes the reports (--json FILE, --html FILE), prints the summary (or the JSON
 * report on stdout with a bare --json), and sets exit code 1 when a correctness counter of Parley is
 * above 0. The progress line is on stderr, only when stderr is a terminal and --json is not given.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../src/errors/app-error.js';
import { loadScenario, PEER_NAMES, type PeerName } from '../scenario-schema.js';
import { htmlReport } from './html-report.js';
import { Progress } from './progress.js';
import { summaryText } from './report.js';
import { runScenario } from './run-scenario.js';

export interface ScenarioFlags {
  /** true: the JSON report on stdout; a string: written to that file. */
  json?: boolean | string;
  html?: string;
  /** Comma separated; overrides the scenario's own `peers`. */
  peers?: string;
}

export function isScenarioFile(arg: string): boolean {
  return /\.ya?ml$/.test(arg);
}

export function parsePeers(list: string): PeerName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(PEER_NAMES as readonly string[]).includes(n));
  if (bad.length)
    throw new ConfigError('unknown peer', [
      { path: '--peers', message: `${bad.join(', ')}; known: ${PEER_NAMES.join(', ')}` },
    ]);
  return [...new Set(names)] as PeerName[];
}

export async function runScenarioFile(file: string, flags: ScenarioFlags): Promise<void> {
  const scenario = loadScenario(file);
  const peers = flags.peers !== undefined ? parsePeers(flags.peers) : scenario.peers;
  const report = await runScenario(scenario, {
    file,
    peers,
    progress: Progress.forStderr(flags.json !== undefined && flags.json !== false),
  });
  if (typeof flags.json === 'string') writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
  if (flags.html) writeFileSync(flags.html, htmlReport(report));
  if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(summaryText(report));
  if (!report.pass) process.exitCode = 1;
}
