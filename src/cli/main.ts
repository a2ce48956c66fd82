/**
 * `parley` command line. Thin: every command parses its flags and calls the same modules the server uses.
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */
import { Command, CommanderError } from 'commander';
import { AppError, ConfigError } from '../errors/app-error.js';
import { commands } from './commands/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('parley')
    .description('Engagement-automation engine: an actor-model stream processor on NATS JetStream')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? EXIT_OK : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return EXIT_OK;
      }
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`parley: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(
      `parley: ${err instanceof AppError ? err.message : err instanceof Error ? err.stack : String(err)}\n`,
    );
    return EXIT_FAILURE;
  }
}

const code = await main(process.argv);
// Long-running commands (start) resolve only after they have shut down; one-shots end here.
process.exitCode = code;
if (code !== 0) setImmediate(() => process.exit(code));
