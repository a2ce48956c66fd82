/**
 * `parley pause|resume <scope>` and `parley switches`: kill switches and pauses in the parley-control bucket,
 * effective in every process within a second (KV watch). Scopes: global, tenant:<t>, rule:[<t>/]<r>,
 * channel:[<t>/]<c>, conversation:<t>/<c>. `pause` holds sends until resume; `pause --kill` drops them.
 */
import type { Command } from 'commander';
import { inScope } from '../../http/operators.js';
import { checkScopeTenant, listSwitches, pause, resume } from '../../ops/safety-ops.js';
import { parseScope } from '../../safety/control.js';
import {
  type CommonFlags,
  loadFromFlags,
  type OperatorFlags,
  operatorFromFlags,
  print,
  withCommonFlags,
  withOperatorFlags,
} from '../options.js';
import { withSafetyStore } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

/** The tenant a scope is limited to; null for one spanning tenants (only unscoped operators set those). */
function scopeTenant(text: string): string | null {
  const scope = parseScope(text);
  return 'tenant' in scope && scope.tenant !== undefined ? scope.tenant : null;
}

const SCOPES = 'global | tenant:<t> | rule:[<t>/]<r> | channel:[<t>/]<c> | conversation:<t>/<c>';

export const registerPause: RegisterCommand = (program: Command) => {
  withOperatorFlags(withCommonFlags(program.command('pause')))
    .description(
      'Stop sends at a scope, in every process within a second (held until resume, or dropped with --kill)',
    )
    .argument('<scope>', SCOPES)
    .option('--kill', 'drop actions instead of holding them (recorded as compliance-blocked)')
    .option('--reason <text>', 'why (recorded in AUDIT and on the switch)')
    .option('--json', 'print as JSON')
    .action(
      async (scope: string, flags: CommonFlags & OperatorFlags & { kill?: boolean; reason?: string }) => {
        const { config } = loadFromFlags(flags);
        const op = operatorFromFlags(config, flags, 'operator', scopeTenant(scope));
        checkScopeTenant(scope, Object.keys(config.tenants));
        const result = await withSafetyStore(config, async (store) =>
          pause(store, {
            scope,
            mode: flags.kill ? 'kill' : 'pause',
            by: op.name,
            ...(flags.reason ? { reason: flags.reason } : {}),
          }),
        );
        print(
          flags,
          result,
          () => `${result.mode === 'kill' ? 'killed' : 'paused'} ${result.scope} (key ${result.key})`,
        );
      },
    );

  withOperatorFlags(withCommonFlags(program.command('resume')))
    .description('Lift a pause or kill switch; held actions are sent again')
    .argument('<scope>', SCOPES)
    .option('--json', 'print as JSON')
    .action(async (scope: string, flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      const op = operatorFromFlags(config, flags, 'operator', scopeTenant(scope));
      checkScopeTenant(scope, Object.keys(config.tenants));
      const result = await withSafetyStore(config, async (store) =>
        resume(store, {
          scope,
          by: op.name,
        }),
      );
      print(flags, result, () => `resumed ${result.scope}${result.was ? '' : ' (it was not paused)'}`);
    });

  withOperatorFlags(withCommonFlags(program.command('switches')))
    .description('Kill switches and pauses in force')
    .option('--json', 'print as JSON')
    .action(async (flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      const op = operatorFromFlags(config, flags, 'viewer');
      const all = await withSafetyStore(config, async (store) => listSwitches(store));
      const rows = all.filter((r) => inScope(op, scopeTenant(r.scope) ?? undefined));
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
