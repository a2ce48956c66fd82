/**
 * `parley pause|resume <scope>` and `parley switches`: kill switches and pauses in the parley-control bucket,
 * effective in every process within a second (KV watch). Scopes: global, tenant:<t>, rule:[<t>/]<r>,
 * channel:[<t>/]<c>, conversation:<t>/<c>. `pause` holds sends until resume; `pause --kill` drops them.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { NatsSafetyStore } from '../../nats/safety-store.js';
import { checkScopeTenant, listSwitches, pause, resume } from '../../ops/safety-ops.js';
import { type CommonFlags, loadFromFlags, print, withCommonFlags } from '../options.js';
import { withNatsSession } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

const SCOPES = 'global | tenant:<t> | rule:[<t>/]<r> | channel:[<t>/]<c> | conversation:<t>/<c>';

export const registerPause: RegisterCommand = (program: Command) => {
  withCommonFlags(program.command('pause'))
    .description(
      'Stop sends at a scope, in every process within a second (held until resume, or dropped with --kill)',
    )
    .argument('<scope>', SCOPES)
    .option('--kill', 'drop actions instead of holding them (recorded as compliance-blocked)')
    .option('--reason <text>', 'why (recorded in AUDIT and on the switch)')
    .option('--by <who>', 'who (recorded in AUDIT)', userInfo().username)
    .option('--json', 'print as JSON')
    .action(async (scope: string, flags: CommonFlags & { kill?: boolean; reason?: string; by: string }) => {
      const { config } = loadFromFlags(flags);
      checkScopeTenant(scope, Object.keys(config.tenants));
      const result = await withNatsSession(config, async (h) =>
        pause(await NatsSafetyStore.open(h), {
          scope,
          mode: flags.kill ? 'kill' : 'pause',
          by: flags.by,
          ...(flags.reason ? { reason: flags.reason } : {}),
        }),
      );
      print(
        flags,
        result,
        () => `${result.mode === 'kill' ? 'killed' : 'paused'} ${result.scope} (key ${result.key})`,
      );
    });

  withCommonFlags(program.command('resume'))
    .description('Lift a pause or kill switch; held actions are sent again')
    .argument('<scope>', SCOPES)
    .option('--by <who>', 'who (recorded in AUDIT)', userInfo().username)
    .option('--json', 'print as JSON')
    .action(async (scope: string, flags: CommonFlags & { by: string }) => {
      const { config } = loadFromFlags(flags);
      checkScopeTenant(scope, Object.keys(config.tenants));
      const result = await withNatsSession(config, async (h) =>
        resume(await NatsSafetyStore.open(h), { scope, by: flags.by }),
      );
      print(flags, result, () => `resumed ${result.scope}${result.was ? '' : ' (it was not paused)'}`);
    });

  withCommonFlags(program.command('switches'))
    .description('Kill switches and pauses in force')
    .option('--json', 'print as JSON')
    .action(async (flags: CommonFlags) => {
      const { config } = loadFromFlags(flags);
      const rows = await withNatsSession(config, async (h) => listSwitches(await NatsSafetyStore.open(h)));
      print(flags, rows, () =>
        rows.length === 0
          ? 'no switches set'
          : rows
              .map(
                (r) => `${r.mode.padEnd(5)}  ${r.scope}  since ${r.at}${r.reason ? `  (${r.reason})` : ''}`,
              )
              .join('\n'),
      );
    });
};
