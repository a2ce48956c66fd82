/** `parley start`: every role (or --roles) in one process, until SIGINT/SIGTERM. */
import { Command } from 'commander';
import { ConfigError } from '../../errors/app-error.js';
import { ROLES, type Role, runUntilSignal, start } from '../../main.js';
import { loadFromFlags, withCommonFlags } from '../options.js';

export function registerStart(program: Command): void {
  program.addCommand(
    withCommonFlags(new Command('start'))
      .description('run Parley: embedded nats-server unless nats.url is set, streams applied, every role')
      .option('--roles <list>', `roles to run, comma separated (${ROLES.join(', ')})`, ROLES.join(','))
      .option('--partitions <set>', 'partitions this process owns: "all" or ranges like 0-15,32')
      .action(async (flags: { config?: string; natsUrl?: string; roles: string; partitions?: string }) => {
        const roles = flags.roles
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean);
        const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
        if (unknown.length > 0) {
          throw new ConfigError('unknown role', [
            { path: '--roles', message: `${unknown.join(', ')}; known: ${ROLES.join(', ')}` },
          ]);
        }
        const { config } = loadFromFlags(
          flags,
          flags.partitions ? { runtime: { partitions: flags.partitions } } : {},
        );
        const parley = await start(config, { roles: roles as Role[] });
        await runUntilSignal(parley);
        // Everything is drained and closed; idle keep-alive sockets or timers must not keep the process up.
        parley.log.flush(() => process.exit(0));
      }),
  );
}
