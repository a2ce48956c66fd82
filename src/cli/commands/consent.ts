/**
 * `parley consent get|set <tenant> <conversation>`: do-not-disturb per fan and channel. `set` publishes a
 * `admin.consent.updated` event: the conversation's actor applies it in order and writes parley-consent, which
 * every process watches (so a pending action in ACTIONS is stopped at send time).
 */
import { type Command, Option } from 'commander';
import { ValidationError } from '../../errors/app-error.js';
import { getConsent, setConsent } from '../../ops/safety-ops.js';
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

export const registerConsent: RegisterCommand = (program: Command) => {
  const consent = program.command('consent').description('Read and set do-not-disturb per fan and channel');

  withOperatorFlags(withCommonFlags(consent.command('get')))
    .description('The consent record of one conversation (fan)')
    .argument('<tenant>')
    .argument('<conversation>')
    .option('--json', 'print as JSON')
    .action(async (tenant: string, conversation: string, flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      operatorFromFlags(config, flags, 'viewer', tenant);
      const view = await withSafetyStore(config, async (store) => getConsent(store, tenant, conversation));
      print(flags, view, () => {
        const ch = Object.entries(view.channels).map(([c, d]) => `${c}=${d ? 'dnd' : 'allowed'}`);
        return `${tenant}/${conversation}: ${view.dnd ? 'DND' : 'allowed'}${ch.length ? ` (${ch.join(', ')})` : ''} source ${view.source}${view.updatedAt ? ` at ${view.updatedAt}` : ''}`;
      });
    });

  withOperatorFlags(withCommonFlags(consent.command('set')))
    .description(
      'Put a fan on do-not-disturb (--dnd on) or allow them again (--dnd off), optionally for one channel',
    )
    .argument('<tenant>')
    .argument('<conversation>')
    .addOption(
      new Option('--dnd <on|off>', 'on: do not disturb; off: allowed')
        .choices(['on', 'off'])
        .makeOptionMandatory(),
    )
    .option('--channel <channel>', 'only this channel')
    .option('--reason <text>', 'why (recorded in AUDIT)')
    .option('--json', 'print as JSON')
    .action(
      async (
        tenant: string,
        conversation: string,
        flags: CommonFlags & OperatorFlags & { dnd: string; channel?: string; reason?: string },
      ) => {
        if (flags.dnd !== 'on' && flags.dnd !== 'off')
          throw new ValidationError('invalid --dnd', [{ path: '--dnd', message: 'use on or off' }]);
        const { config } = loadFromFlags(flags);
        const op = operatorFromFlags(config, flags, 'operator', tenant);
        const result = await withSafetyStore(config, async (store) =>
          setConsent(store, tenant, conversation, {
            dnd: flags.dnd === 'on',
            by: op.name,
            ...(flags.channel ? { channel: flags.channel } : {}),
            ...(flags.reason ? { reason: flags.reason } : {}),
          }),
        );
        print(
          flags,
          result,
          () => `admin.consent.updated published for ${tenant}/${conversation} (event seq ${result.seq})`,
        );
      },
    );
};
