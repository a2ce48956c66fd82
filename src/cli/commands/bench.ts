/** `parley bench <scenario>`: runs a bench scenario (bench/) against a local nats-server and prints its report. */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { printReport } from '../../../bench/harness.js';
import { scenarios } from '../../../bench/index.js';
import { isScenarioFile, runScenarioFile, type ScenarioFlags } from '../../../bench/run/cli-run.js';
import { ConfigError } from '../../errors/app-error.js';

export function registerBench(program: Command): void {
  program.addCommand(
    new Command('bench')
      .description(
        `run a bench scenario: ${Object.entries(scenarios)
          .map(([k, s]) => `${k} (${s.description})`)
          .join('; ')}`,
      )
      .argument('<scenario>', `a scenario file (bench/*.yaml) or ${Object.keys(scenarios).join(' | ')}`)
      .option('--set <key=value...>', 'scenario options, e.g. --set conversations=10000 events=20', [])
      .option('--json [file]', 'the report as JSON on stdout, or (scenario files) written to FILE')
      .option('--html <file>', 'scenario files: write the self-contained HTML report')
      .option('--peers <list>', 'scenario files: also run peers (bullmq-ordered,bullmq), see bench/README.md')
      .option('--out <file>', 'also write the JSON report to a file')
      .action(async (name: string, flags: { set: string[]; out?: string } & ScenarioFlags) => {
        if (isScenarioFile(name)) return runScenarioFile(name, flags);
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
