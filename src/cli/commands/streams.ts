/**
 * `parley streams apply|show`: provisions and inspects the JetStream streams and KV buckets defined in
 * `streams/`. Without nats.url it talks to the embedded server of a running `parley start`, or else runs
 * the embedded nats-server (the same store) for the duration of the command, then stops it.
 */
import type { Command } from 'commander';
import { loadDefinitions } from '../../nats/definitions.js';
import {
  ALLOW_DESTRUCTIVE_FLAG,
  applyDefinitions,
  describeDefinitions,
  type ProvisionReport,
  type ProvisionStatus,
} from '../../nats/provision.js';
import { type CommonFlags, loadFromFlags, print, withCommonFlags } from '../options.js';
import { withNatsSession } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

interface ApplyFlags extends CommonFlags {
  dryRun?: boolean;
  allowDestructive?: boolean;
}

function applyText(report: ProvisionReport): string {
  const lines: string[] = [];
  const counts = { created: 0, updated: 0, unchanged: 0 };
  for (const change of report.changes) {
    counts[change.action]++;
    lines.push(
      `${change.kind} ${change.name}: ${report.dryRun ? `would be ${change.action}` : change.action}`,
    );
    for (const d of change.diff) lines.push(`  ${d}`);
  }
  lines.push(
    `${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged` +
      (report.dryRun ? ' (dry run: nothing was changed)' : ''),
  );
  return lines.join('\n');
}

function showText(status: ProvisionStatus): string {
  const rows = status.entries.map((e) => [
    e.kind,
    e.name,
    e.exists ? String(e.messages) : 'missing',
    e.exists ? String(e.bytes) : '-',
    e.exists ? String(e.consumers) : '-',
    e.kind === 'stream' ? e.subjects.join(',') : e.stream,
  ]);
  const header = ['KIND', 'NAME', 'MESSAGES', 'BYTES', 'CONSUMERS', 'SUBJECTS/STREAM'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const missing = status.entries.some((e) => !e.exists);
  return [
    `partitions: ${status.partitions ?? 'not recorded yet'}`,
    format(header),
    ...rows.map(format),
    ...(missing ? ['some definitions are missing on the server: run `parley streams apply`'] : []),
  ].join('\n');
}

export const registerStreams: RegisterCommand = (program: Command) => {
  const streams = program
    .command('streams')
    .description('Create, update and inspect the JetStream streams and KV buckets defined in streams/');

  withCommonFlags(streams.command('apply'))
    .description(
      'Create missing streams and buckets, update changed ones (idempotent); records the partition count',
    )
    .option('--dry-run', 'show what would change without changing anything')
    .option(
      ALLOW_DESTRUCTIVE_FLAG,
      'allow changes that lose data or reorder conversations: recreating a stream (storage, retention), ' +
        'removing subjects, changing the partition count',
    )
    .option('--json', 'print the report as JSON')
    .action(async (flags: ApplyFlags) => {
      const { config } = loadFromFlags(flags);
      const defs = loadDefinitions(config.streams);
      const report = await withNatsSession(config, (handles) =>
        applyDefinitions(handles, defs, {
          partitions: config.partitions,
          allowDestructive: flags.allowDestructive === true,
          dryRun: flags.dryRun === true,
        }),
      );
      print(flags, report, () => applyText(report));
    });

  withCommonFlags(streams.command('show'))
    .description('List the defined streams and buckets with their message counts, and the partition count')
    .option('--json', 'print as JSON')
    .action(async (flags: CommonFlags) => {
      const { config } = loadFromFlags(flags);
      const defs = loadDefinitions(config.streams);
      const status = await withNatsSession(config, (handles) => describeDefinitions(handles, defs));
      print(flags, status, () => showText(status));
    });
};
