/**
 * `parley` command line. Thin: every command parses its flags and calls the same modules the server uses.
 * Exit codes: 0 success, 1 failure, 2 usage error. Every failure is reported once, here (src/cli/errors.ts):
 * one line naming what is wrong and the fix, or a JSON error object on stdout when --json was given.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { describeFailure, EXIT_OK, EXIT_USAGE, failureJson, failureText } from './errors.js';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './errors.js';

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Every command and subcommand, depth first. */
function walk(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...walk(c)]);
}

export function buildProgram(): Command {
  const program = new Command('parley')
    .description('Engagement-automation engine: an actor-model stream processor on NATS JetStream')
    .version('0.1.0');
  for (const register of commands) register(program);
  // Usage errors are thrown (not process.exit) at every depth and reported by main() in one line.
  for (const cmd of [program, ...walk(program)]) {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
  }
  return program;
}

/** Where the help is for the command the arguments name (`parley escalations resolve --help`). */
function usageHint(program: Command, argv: readonly string[]): string {
  const path: string[] = [];
  let cmd: Command = program;
  for (const arg of argv.slice(2)) {
    const next = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!next) break;
    path.push(next.name());
    cmd = next;
  }
  return `run \`parley ${[...path, '--help'].join(' ')}\` for usage`;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT_OK : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError && HELP_CODES.has(err.code)) return EXIT_OK;
    const failure = describeFailure(err);
    if (err instanceof CommanderError) failure.message = `${failure.message} (${usageHint(program, argv)})`;
    if (json) process.stdout.write(failureJson(failure));
    else process.stderr.write(failureText(failure, /\bparley\b/.test(process.env.DEBUG ?? '')));
    return failure.exitCode ?? EXIT_USAGE;
  }
}

const code = await main(process.argv);
// Long-running commands (start) resolve only after they have shut down; one-shots end here.
process.exitCode = code;
if (code !== 0) setImmediate(() => process.exit(code));
