/**
 * `parley partitions [--json] [--members]`: who owns each partition and how far behind it is, read from NATS
 * the way an operator would: the `parley-leases` bucket (`partitions.<n>`: owner, epoch, renewedAt,
 * released; the membership record `members` and any `members.<owner>` keys) and the partition consumers,
 * `actors-pNN` on EVENTS and `connectors-pNN` on ACTIONS (lag = num_pending + num_ack_pending).
 *
 * A lease's state: `owned`; `released` (given up on a graceful stop or handover); `expired` (not released
 * and not renewed for a lease ttl, by the server's write time against this machine's clock: the owner is
 * probably dead and the lease is about to move); `unowned` (never taken). Read-only.
 */
import type { Command } from 'commander';
import type { ParleyConfig } from '../../config/schema.js';
import { decodeMsgpack } from '../../envelope/codec.js';
import { AppError } from '../../errors/app-error.js';
import { LEASES_BUCKET } from '../../main.js';
import { ACTIONS_STREAM, connectorConsumerName } from '../../nats/action-source.js';
import type { NatsHandles } from '../../nats/connection.js';
import { isStreamNotFound } from '../../nats/errors.js';
import { EVENTS_STREAM, partitionConsumerName } from '../../nats/partition-source.js';
import { kvStreamName } from '../../nats/provision.js';
import { type CommonFlags, loadFromFlags, print, withCommonFlags } from '../options.js';
import { withNatsSession } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

export type LeaseState = 'owned' | 'released' | 'expired' | 'unowned';

export interface PartitionRow {
  partition: number;
  owner: string | null;
  epoch: number | null;
  state: LeaseState;
  /** Events and actions waiting or in flight in this partition (null: no consumer yet). */
  lag: number | null;
  lagEvents: number | null;
  lagActions: number | null;
  /** The owner's last renewal, by its own clock. */
  renewedAt: string | null;
  /** Whether the owner is in the membership record. */
  member: boolean;
}

export interface MemberRow {
  owner: string;
  mode: string | null;
  /** Partitions a static member pins. */
  pinned: number[] | null;
  /** Heartbeat counter (moves every lease ttl/4 while the member lives). */
  beat: number | null;
  startedAt: string | null;
  /** Partitions whose lease it holds now. */
  partitions: number[];
}

export interface PartitionReport {
  partitions: PartitionRow[];
  members: MemberRow[];
}

interface Lease {
  owner: string;
  epoch: number;
  renewedAt: number;
  released?: boolean;
}

interface MemberEntry {
  beat?: number;
  mode?: string;
  pinned?: number[];
  startedAt?: number;
}

type Kv = Awaited<ReturnType<NatsHandles['kvm']['open']>>;

const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : null);

/** num_pending + num_ack_pending of each consumer of a stream, by name (empty when the stream is missing). */
async function consumerLag(h: NatsHandles, stream: string): Promise<Map<string, number>> {
  const lag = new Map<string, number>();
  try {
    for await (const info of h.jsm.consumers.list(stream)) {
      lag.set(info.name, info.num_pending + info.num_ack_pending);
    }
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  return lag;
}

async function readMembers(kv: Kv): Promise<Map<string, MemberEntry>> {
  const out = new Map<string, MemberEntry>();
  const record = await kv.get('members');
  if (record && record.length > 0) {
    const m = decodeMsgpack(record.value) as { members?: Record<string, MemberEntry> };
    for (const [owner, e] of Object.entries(m.members ?? {})) out.set(owner, e);
  }
  for await (const key of await kv.keys('members.>')) {
    const e = await kv.get(key);
    if (e && e.length > 0) out.set(key.slice('members.'.length), decodeMsgpack(e.value) as MemberEntry);
  }
  return out;
}

export async function readPartitionReport(
  h: NatsHandles,
  o: { partitions: number; leaseTtlMs: number; now?: number },
): Promise<PartitionReport> {
  const now = o.now ?? Date.now();
  // Kvm.open does not check that the bucket exists; reads would fail with a bare "stream not found".
  await h.jsm.streams.info(kvStreamName(LEASES_BUCKET)).catch((err: unknown) => {
    if (!isStreamNotFound(err)) throw err;
    throw new AppError(
      `no ${LEASES_BUCKET} bucket on this server: no Parley deployment has started here yet ` +
        '(run `parley streams apply` or `parley start` first, or check nats.url)',
      { code: 'LEASES_BUCKET_MISSING', cause: err },
    );
  });
  const kv = await h.kvm.open(LEASES_BUCKET);
  const [events, actions, members, leases] = await Promise.all([
    consumerLag(h, EVENTS_STREAM),
    consumerLag(h, ACTIONS_STREAM),
    readMembers(kv),
    Promise.all(Array.from({ length: o.partitions }, (_, p) => kv.get(`partitions.${p}`))),
  ]);
  const rows = leases.map((entry, partition): PartitionRow => {
    const lagEvents = events.get(partitionConsumerName(partition)) ?? null;
    const lagActions = actions.get(connectorConsumerName(partition)) ?? null;
    const lag = lagEvents === null && lagActions === null ? null : (lagEvents ?? 0) + (lagActions ?? 0);
    const base = { partition, lag, lagEvents, lagActions };
    if (!entry || entry.length === 0)
      return { ...base, owner: null, epoch: null, state: 'unowned', renewedAt: null, member: false };
    const lease = decodeMsgpack(entry.value) as Lease;
    const state: LeaseState = lease.released
      ? 'released'
      : now - entry.created.getTime() > o.leaseTtlMs
        ? 'expired'
        : 'owned';
    return {
      ...base,
      owner: lease.owner,
      epoch: lease.epoch,
      state,
      renewedAt: iso(lease.renewedAt),
      member: members.has(lease.owner),
    };
  });
  const memberRows = [...members.entries()]
    .map(
      ([owner, e]): MemberRow => ({
        owner,
        mode: e.mode ?? null,
        pinned: e.pinned ?? null,
        beat: e.beat ?? null,
        startedAt: iso(e.startedAt),
        partitions: rows.filter((r) => r.owner === owner && r.state === 'owned').map((r) => r.partition),
      }),
    )
    .sort((a, b) => a.owner.localeCompare(b.owner));
  return { partitions: rows, members: memberRows };
}

function table(report: PartitionReport): string {
  const head = ['partition', 'owner', 'epoch', 'state', 'lag', 'events', 'actions'];
  const cells = report.partitions.map((r) => [
    String(r.partition),
    r.owner ?? '-',
    r.epoch === null ? '-' : String(r.epoch),
    r.state,
    r.lag === null ? '-' : String(r.lag),
    r.lagEvents === null ? '-' : String(r.lagEvents),
    r.lagActions === null ? '-' : String(r.lagActions),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const counts = new Map<string, number>();
  for (const r of report.partitions) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return [
    line(head),
    ...cells.map(line),
    '',
    `${report.partitions.length} partitions: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`,
    membersText(report.members),
  ].join('\n');
}

function membersText(members: MemberRow[]): string {
  if (members.length === 0) return 'members: none registered';
  return [
    `members (${members.length}):`,
    ...members.map(
      (m) =>
        `  ${m.owner}  ${m.mode ?? '?'}  owns ${m.partitions.length}${
          m.pinned ? `  pins ${m.pinned.length}` : ''
        }${m.startedAt ? `  since ${m.startedAt}` : ''}`,
    ),
  ].join('\n');
}

export const registerPartitions: RegisterCommand = (program: Command) => {
  withCommonFlags(program.command('partitions'))
    .description(
      'List each partition with its owner, lease epoch, state (owned, released, expired, unowned) and lag ' +
        '(pending + unacked on actors-pNN and connectors-pNN), then the members sharing them',
    )
    .option('--json', 'print the partitions as a JSON array of { partition, owner, epoch, state, lag, ... }')
    .option('--members', 'print only the members (with --json: an array of { owner, mode, partitions, ... })')
    .action(async (flags: CommonFlags & { members?: boolean }) => {
      const { config } = loadFromFlags(flags);
      const report = await withNatsSession(config, (h) => read(h, config));
      if (flags.members) print(flags, report.members, () => membersText(report.members));
      else print(flags, report.partitions, () => table(report));
    });
};

const read = (h: NatsHandles, config: ParleyConfig) =>
  readPartitionReport(h, { partitions: config.partitions, leaseTtlMs: config.runtime.leaseTtlMs });
