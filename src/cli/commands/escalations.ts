/**
 * `parley escalations list|show|resolve`: the human side of escalation-first safety. `resolve` publishes an
 * `admin.escalation.resolved` event (resume, close, or reply with a human-written message) that the conversation's
 * actor applies in order; see docs/safety.md.
 */
import { type Command, Option } from 'commander';
import { AppError } from '../../errors/app-error.js';
import { inScope } from '../../http/operators.js';
import {
  type EscalationView,
  listEscalations,
  resolveEscalation,
  showEscalation,
} from '../../ops/safety-ops.js';
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

function table(rows: EscalationView[]): string {
  if (rows.length === 0) return 'no escalations';
  const cells = rows.map((r) => [r.escalationId, r.status, r.priority, r.reason, r.at]);
  const header = ['ID', 'STATUS', 'PRIORITY', 'REASON', 'AT'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const fmt = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...cells.map(fmt)].join('\n');
}

function detail(v: EscalationView): string {
  const e = v.evidence as { event?: { id?: string; type?: string }; labels?: unknown[]; snippet?: string };
  return [
    `escalation ${v.escalationId} (${v.status})`,
    `  conversation: ${v.tenant}/${v.conversation}`,
    `  reason:       ${v.reason}, priority ${v.priority}${v.updates ? ` (updated ${v.updates}x)` : ''}`,
    `  at:           ${v.at}`,
    `  event:        ${e.event?.type ?? '?'} ${e.event?.id ?? ''}`,
    ...(e.snippet ? [`  evidence:     "${e.snippet}"`] : []),
    `  labels:       ${JSON.stringify(e.labels ?? [])}`,
    ...(v.suggestedNext ? [`  next step:    ${v.suggestedNext}`] : []),
    `resolve with: parley escalations resolve ${v.escalationId} --outcome resume|close|reply [--text "..."]`,
  ].join('\n');
}

export const registerEscalations: RegisterCommand = (program: Command) => {
  const esc = program
    .command('escalations')
    .description('List, inspect and resolve conversations the safety gate handed to a human');

  withOperatorFlags(withCommonFlags(esc.command('list')))
    .description('Escalations, most urgent first (default: the open ones)')
    .option('--tenant <id>', 'only this tenant')
    .option('--status <status>', 'open, closed, resolved or all', 'open')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .action(
      async (flags: CommonFlags & OperatorFlags & { tenant?: string; status: string; limit: string }) => {
        const { config } = loadFromFlags(flags);
        const op = operatorFromFlags(config, flags, 'viewer', flags.tenant);
        const rows = await withSafetyStore(config, async (store) =>
          listEscalations(store, { tenant: flags.tenant, status: flags.status, limit: flags.limit }, (r) =>
            inScope(op, r.tenant),
          ),
        );
        print(flags, rows, () => table(rows));
      },
    );

  withOperatorFlags(withCommonFlags(esc.command('show')))
    .description('One escalation: reason, evidence, labels, suggested next step, status')
    .argument('<id>', 'escalation id (<tenant>.<conversation>.<seq>)')
    .option('--json', 'print as JSON')
    .action(async (id: string, flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      operatorFromFlags(config, flags, 'viewer');
      const view = await withSafetyStore(config, async (store) => showEscalation(store, id));
      if (view) operatorFromFlags(config, flags, 'viewer', view.tenant);
      if (!view)
        throw new AppError(`no escalation ${id} (\`parley escalations list --status all\` lists them)`, {
          code: 'NOT_FOUND',
        });
      print(flags, view, () => detail(view));
    });

  withOperatorFlags(withCommonFlags(esc.command('resolve')))
    .description('Resolve: resume automation (held actions are re-checked and sent), close it, or reply')
    .argument('<id>', 'escalation id (<tenant>.<conversation>.<seq>)')
    .addOption(
      new Option('--outcome <outcome>', 'resume, close or reply')
        .choices(['resume', 'close', 'reply'])
        .makeOptionMandatory(),
    )
    .option('--text <message>', 'reply: the human-written message')
    .option('--channel <channel>', 'reply: channel to send it on (default safety.escalation.replyChannel)')
    .option('--template <name>', 'reply: template (default safety.escalation.replyTemplate)')
    .option('--note <text>', 'why (recorded in AUDIT)')
    .addOption(
      new Option(
        '--expect-status <status>',
        'refuse (exit 1) unless the escalation is in this status now (what you looked at)',
      ).choices(['open', 'closed']),
    )
    .option('--json', 'print as JSON')
    .action(
      async (
        id: string,
        flags: CommonFlags & {
          outcome: string;
          text?: string;
          channel?: string;
          template?: string;
          note?: string;
          expectStatus?: 'open' | 'closed';
        } & OperatorFlags,
      ) => {
        const { config } = loadFromFlags(flags);
        // The tenant is the id's first token (<tenant>.<conversation>.<seq>); resolveEscalation validates it.
        const op = operatorFromFlags(config, flags, 'reviewer', id.split('.')[0]);
        const body = {
          outcome: flags.outcome,
          by: op.name,
          ...(flags.note ? { note: flags.note } : {}),
          ...(flags.text !== undefined
            ? {
                reply: {
                  text: flags.text,
                  ...(flags.channel ? { channel: flags.channel } : {}),
                  ...(flags.template ? { template: flags.template } : {}),
                },
              }
            : {}),
        };
        const result = await withSafetyStore(config, async (store) =>
          resolveEscalation(store, id, body, { expectStatus: flags.expectStatus }),
        );
        print(flags, result, () => `${id}: ${result.outcome} requested (event seq ${result.seq})`);
      },
    );
};
