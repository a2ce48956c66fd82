/**
 * `parley dlq list|show|redrive|drop`: inspect and repair dead letters (DLQ stream, `dlq.<channel>.<tenant>`).
 * Redrive republishes the original action unchanged (same action ID: it cannot be delivered twice) and
 * records the operator action in AUDIT. Connects to nats.url, or to the running embedded server, or starts
 * the embedded server for the duration of the command.
 */
import type { Command } from 'commander';
import type { ParleyConfig } from '../../config/schema.js';
import { DeadLetters, type DeadLetterView, dlqFilter, listVisible } from '../../connectors/dead-letters.js';
import { AppError, ValidationError } from '../../errors/app-error.js';
import { inScope } from '../../http/operators.js';
import { NatsDeadLetterStore } from '../../nats/dlq-store.js';
import { JetStreamPublisher } from '../../nats/js-publisher.js';
import { deploymentDedupeKey } from '../../nats/provision.js';
import {
  type CommonFlags,
  loadFromFlags,
  type OperatorFlags,
  operatorFromFlags,
  print,
  withCommonFlags,
  withOperatorFlags,
} from '../options.js';
import { withNatsSession } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

interface ListFlags extends CommonFlags, OperatorFlags {
  channel?: string;
  tenant?: string;
  limit: string;
}

/** nats.url; else the embedded server of a running `parley start`; else one started for now. */
function withDeadLetters<T>(config: ParleyConfig, fn: (dl: DeadLetters) => Promise<T>): Promise<T> {
  return withNatsSession(config, async (h) => {
    // A redriven event goes back into EVENTS under a keyed Nats-Msg-Id, as every process publishes it.
    const eventKey = await deploymentDedupeKey(h, config.runtime.dedupe.secret);
    return fn(
      new DeadLetters(new NatsDeadLetterStore(h), new JetStreamPublisher(h.js, undefined, { eventKey })),
    );
  });
}

function seqs(values: string[]): number[] {
  return values.map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new ValidationError('invalid sequence', [
        { path: 'seq', message: `"${v}" is not a DLQ sequence number` },
      ]);
    return n;
  });
}

function table(rows: DeadLetterView[]): string {
  if (rows.length === 0) return 'the DLQ is empty';
  const cells = rows.map((r) => [
    String(r.seq),
    r.time.replace(/\.\d+Z$/, 'Z'),
    r.channel ?? '-',
    r.tenant ?? '-',
    r.conversation ?? '-',
    r.reason,
    String(r.attempts),
    r.action ?? '-',
    r.error.slice(0, 80),
  ]);
  const header = [
    'SEQ',
    'TIME',
    'CHANNEL',
    'TENANT',
    'CONVERSATION',
    'REASON',
    'ATTEMPTS',
    'ACTION',
    'ERROR',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line), `${rows.length} dead letter(s)`].join('\n');
}

export const registerDlq: RegisterCommand = (program: Command) => {
  const dlq = program
    .command('dlq')
    .description('Inspect, redrive and drop dead letters (actions and events that could not be processed)');

  withOperatorFlags(withCommonFlags(dlq.command('list')))
    .description('List dead letters, oldest first')
    .option('--channel <channel>', 'only this channel (webhook, email, platform-dm, push, in-app, events)')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print as JSON')
    .action(async (flags: ListFlags) => {
      const { config } = loadFromFlags(flags);
      const op = operatorFromFlags(config, flags, 'viewer', flags.tenant);
      const all = await withDeadLetters(config, (dl) =>
        listVisible(
          dl,
          {
            ...(flags.channel ? { channel: flags.channel } : {}),
            ...(flags.tenant ? { tenant: flags.tenant } : {}),
            ...(op.tenants ? { tenants: op.tenants } : {}),
          },
          Number(flags.limit),
        ),
      );
      const rows = all.filter((r) => inScope(op, r.tenant));
      print(flags, rows, () => table(rows));
    });

  withOperatorFlags(withCommonFlags(dlq.command('show')))
    .description('Show one dead letter with its reason, last error and original payload')
    .argument('<seq>', 'DLQ sequence number (from dlq list)')
    .option('--json', 'print as JSON')
    .action(async (seq: string, flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      operatorFromFlags(config, flags, 'viewer');
      const [n] = seqs([seq]);
      const view = await withDeadLetters(config, (dl) => dl.show(n!));
      if (view) operatorFromFlags(config, flags, 'viewer', view.tenant ?? null);
      if (!view)
        throw new AppError(`no dead letter ${n} in the DLQ (\`parley dlq list\` shows what is there)`, {
          code: 'NOT_FOUND',
        });
      print(flags, view, () => JSON.stringify(view, null, 2));
    });

  withOperatorFlags(withCommonFlags(dlq.command('redrive')))
    .description(
      'Republish dead letters unchanged (same action ID, so never delivered twice) and remove them from the DLQ',
    )
    .argument('[seq...]', 'DLQ sequence numbers')
    .option('--all', 'every dead letter matching --channel/--tenant')
    .option('--channel <channel>', 'with --all: only this channel')
    .option('--tenant <tenant>', 'with --all: only this tenant')
    .option('--json', 'print as JSON')
    .action(async (args: string[], flags: ListFlags & { all?: boolean }) => {
      const { config } = loadFromFlags(flags);
      const op = operatorFromFlags(config, flags, 'operator', flags.all ? (flags.tenant ?? null) : undefined);
      if (!flags.all && args.length === 0) {
        throw new ValidationError('nothing to redrive', [
          { path: 'seq', message: 'give sequence numbers or --all' },
        ]);
      }
      const results = await withDeadLetters(config, async (dl) => {
        const targets = flags.all
          ? (await dl.list(dlqFilter(flags.channel, flags.tenant))).map((r) => r.seq)
          : seqs(args);
        const out = [];
        for (const seq of targets) {
          if (!flags.all) operatorFromFlags(config, flags, 'operator', (await dl.show(seq))?.tenant ?? null);
          out.push(await dl.redrive(seq, op.name));
        }
        return out;
      });
      print(flags, results, () =>
        results.length === 0
          ? 'nothing to redrive'
          : results.map((r) => `redrove ${r.seq}: ${r.kind} ${r.id} -> ${r.subject}`).join('\n'),
      );
    });

  withOperatorFlags(withCommonFlags(dlq.command('drop')))
    .description('Delete dead letters for good (recorded in AUDIT)')
    .argument('<seq...>', 'DLQ sequence numbers')
    .option('--json', 'print as JSON')
    .action(async (args: string[], flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      const op = operatorFromFlags(config, flags, 'operator');
      const dropped = await withDeadLetters(config, async (dl) => {
        const out = [];
        for (const seq of seqs(args)) {
          operatorFromFlags(config, flags, 'operator', (await dl.show(seq))?.tenant ?? null);
          out.push(await dl.drop(seq, op.name));
        }
        return out;
      });
      print(flags, dropped, () =>
        dropped.map((d) => `dropped ${d.seq}: ${d.reason} ${d.action ?? ''}`.trimEnd()).join('\n'),
      );
    });
};
