/** `parley start`: every role (or --roles) in one process, until SIGINT/SIGTERM. */
import { Command, Option } from 'commander';
import { ConfigError } from '../../errors/app-error.js';
import { ROLES, type Role, runUntilSignal, start } from '../../main.js';
import { loadFromFlags, withCommonFlags } from '../options.js';

export function registerStart(program: Command): void {
  program.addCommand(
    withCommonFlags(new Command('start'))
      .description('run Parley: embedded nats-server unless nats.url is set, streams applied, every role')
      .option('--roles <list>', `roles to run, comma separated (${ROLES.join(', ')})`, ROLES.join(','))
      .option('--partitions <set>', 'partitions this process owns: "all" or ranges like 0-15,32')
      .addOption(
        new Option(
          '--log-format <format>',
          'json lines, or pretty text (default: pretty on a terminal, else json)',
        ).choices(['json', 'pretty', 'auto']),
      )
      .option(
        '--http-port <n>',
        'HTTP port of this process (0 = a free one; the bound URL is logged): the ingest API with the ingest ' +
          'role, else /healthz, /readyz and /metrics only; without it a process without ingest opens no port',
      )
      .action(
        async (flags: {
          config?: string;
          natsUrl?: string;
          roles: string;
          partitions?: string;
          httpPort?: string;
          logFormat?: string;
        }) => {
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
          let httpPort: number | undefined;
          if (flags.httpPort !== undefined) {
            httpPort = Number(flags.httpPort);
            if (!/^\d+$/.test(flags.httpPort) || httpPort > 65535)
              throw new ConfigError('invalid --http-port', [
                {
                  path: '--http-port',
                  message: `"${flags.httpPort}": a port from 0 (any free port) to 65535`,
                },
              ]);
          }
          const { config } = loadFromFlags(flags, {
            ...(flags.partitions ? { runtime: { partitions: flags.partitions } } : {}),
            ...(httpPort !== undefined ? { http: { port: httpPort } } : {}),
            ...(flags.logFormat ? { log: { format: flags.logFormat } } : {}),
          });
          const parley = await start(config, { roles: roles as Role[], opsHttp: httpPort !== undefined });
          await runUntilSignal(parley);
          // Everything is drained and closed; idle keep-alive sockets or timers must not keep the process up.
          parley.log.flush(() => process.exit(0));
        },
      ),
  );
}
