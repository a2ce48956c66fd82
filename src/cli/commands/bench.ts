/** `parley bench <scenario>`: runs a bench scenario (bench/) against a local nats-server and prints its report. */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { printReport } from '../../../bench/harness.js';
import { scenarios } from '../../../bench/index.js';
import { ConfigError } from '../../errors/app-error.js';

export function registerBench(program: Command): void {
  program.addCommand(
    new Command('bench')
      .description(
        `run a bench scenario: ${Object.entries(scenarios)
          .map(([k, s]) => `${k} (${s.description})`)
          .join('; ')}`,
      )
      .argument('<scenario>', Object.keys(scenarios).join(' | '))
      .option('--set <key=value...>', 'scenario options, e.g. --set conversations=10000 events=20', [])
      .option('--json', 'print the report as JSON')
      .option('--out <file>', 'also write the JSON report to a file')
      .action(async (name: string, flags: { set: string[]; json?: boolean; out?: string }) => {
        const scenario = scenarios[name];
        if (!scenario)
          throw new ConfigError(`unknown scenario "${name}"`, [
            { path: 'scenario', message: `known: ${Object.keys(scenarios).join(', ')}` },
          ]);
        const options = Object.fromEntries(
          flags.set.map((kv) => {
            const i = kv.indexOf('=');
            if (i < 1)
              throw new ConfigError('bad --set', [{ path: '--set', message: `"${kv}" is not key=value` }]);
            return [kv.slice(0, i), kv.slice(i + 1)];
          }),
        );
        const report = await scenario.run(options);
        printReport(report, Boolean(flags.json));
        if (flags.out) writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
      }),
  );
}
