/**
 * Applies the definitions from `streams/` to a NATS server, idempotently: creates what is missing, updates
 * what differs (reporting each changed field), leaves the rest alone. Used by `parley streams apply` and at
 * start-up.
 *
 * What must stay true: nothing changes before the whole plan is known, and a plan with a destructive step
 * (another partition count than the one recorded in parley-deployment, a storage / retention / max_consumers
 * change that means deleting a stream, removed subjects) is refused with a ConfigError unless the caller passes
 * allowDestructive. Only fields written in a definition are compared: the server fills in defaults for the rest.
 * Buckets are real KV buckets (created through Kvm, so `nats kv ls` lists them).
 */

import { randomBytes } from 'node:crypto';
import type { StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { BUCKETS } from '../contracts/names.js';
import { createDedupeKey, type DedupeKey } from '../envelope/dedupe-key.js';
import { ConfigError, type Issue } from '../errors/app-error.js';
import type { NatsHandles } from './connection.js';
import {
  type BucketDefinition,
  type Definitions,
  type StreamDefinitionConfig,
  toStreamConfig,
} from './definitions.js';
import { isStreamNotFound } from './errors.js';
import { compareVersions, parseServerVersion } from './server-version.js';

export const DEPLOYMENT_BUCKET = BUCKETS.deployment;
export const PARTITIONS_KEY = 'partitions';
export const ALLOW_DESTRUCTIVE_FLAG = '--allow-destructive';

export interface ProvisionOptions {
  /** Partition count of this deployment; recorded on first apply, refused if it differs later. */
  partitions: number;
  /** Apply destructive changes (stream recreation, removed subjects, a new partition count). Default false. */
  allowDestructive?: boolean;
  /** Plan and report without changing anything. Default false. */
  dryRun?: boolean;
}

export interface ProvisionChange {
  kind: 'stream' | 'bucket' | 'deployment';
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  /** One line per changed field: `EVENTS: max_age 604800000000000 (7d) -> 86400000000000 (1d)`. */
  diff: string[];
}

export interface ProvisionReport {
  dryRun: boolean;
  changes: ProvisionChange[];
}

/** Stream settings the server cannot update in place: changing them means delete and recreate. */
const RECREATE_FIELDS = ['storage', 'retention', 'max_consumers'] as const;
const DURATION_FIELDS = new Set(['max_age', 'duplicate_window']);
/** KV CAS is unsafe on replicated buckets before this version. */
const KV_CAS_SAFE_REPLICATED = parseServerVersion('2.9.21')!;

export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

async function streamInfo(handles: NatsHandles, name: string): Promise<StreamInfo | undefined> {
  try {
    return await handles.jsm.streams.info(name);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}

function formatDuration(ns: number): string {
  if (ns === 0) return 'forever';
  const units: Array<[string, number]> = [
    ['d', 86_400e9],
    ['h', 3_600e9],
    ['m', 60e9],
    ['s', 1e9],
    ['ms', 1e6],
  ];
  for (const [unit, size] of units) if (ns % size === 0) return `${ns / size}${unit}`;
  return `${ns}ns`;
}

function formatValue(field: string, value: unknown): string {
  if (value === undefined) return '(unset)';
  if (DURATION_FIELDS.has(field) && typeof value === 'number') return `${value} (${formatDuration(value)})`;
  return JSON.stringify(value);
}

/** True when every key written in `wanted` has the same value in `actual` (server defaults ignored). */
function matches(wanted: unknown, actual: unknown): boolean {
  if (Array.isArray(wanted)) {
    return (
      Array.isArray(actual) &&
      wanted.length === actual.length &&
      wanted.every((w, i) => matches(w, actual[i]))
    );
  }
  if (typeof wanted === 'object' && wanted !== null) {
    if (typeof actual !== 'object' || actual === null) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(wanted).every(([k, v]) => matches(v, a[k]));
  }
  return wanted === actual;
}

function sameSubjects(wanted: readonly string[], actual: readonly string[] | undefined): boolean {
  const have = new Set(actual ?? []);
  return wanted.length === have.size && wanted.every((s) => have.has(s));
}

interface StreamPlan {
  change: ProvisionChange;
  config: StreamDefinitionConfig;
  recreate: boolean;
}

function planStream(
  config: StreamDefinitionConfig,
  info: StreamInfo | undefined,
  refusals: Issue[],
): StreamPlan {
  const name = config.name;
  if (!info) {
    return { config, recreate: false, change: { kind: 'stream', name, action: 'created', diff: [] } };
  }
  const actual = info.config as unknown as Record<string, unknown>;
  const diff: string[] = [];
  let recreate = false;
  for (const [field, wanted] of Object.entries(config)) {
    const have = actual[field];
    const same =
      field === 'subjects'
        ? sameSubjects(wanted as string[], have as string[] | undefined)
        : matches(wanted, have);
    if (same) continue;
    diff.push(`${name}: ${field} ${formatValue(field, have)} -> ${formatValue(field, wanted)}`);
    if ((RECREATE_FIELDS as readonly string[]).includes(field)) {
      recreate = true;
      refusals.push({
        path: `stream ${name}`,
        message:
          `${field} ${formatValue(field, have)} -> ${formatValue(field, wanted)} cannot be changed in place: ` +
          `the stream would be deleted and recreated, losing its ${info.state.messages} messages`,
      });
    }
    if (field === 'subjects') {
      const removed = ((have as string[] | undefined) ?? []).filter((s) => !config.subjects.includes(s));
      if (removed.length > 0) {
        refusals.push({
          path: `stream ${name}`,
          message: `subjects ${JSON.stringify(removed)} would be removed: messages on them could no longer be published`,
        });
      }
    }
  }
  if (recreate) diff.push(`${name}: recreated (existing messages deleted)`);
  return {
    config,
    recreate,
    change: { kind: 'stream', name, action: diff.length > 0 ? 'updated' : 'unchanged', diff },
  };
}

/** The bucket definition fields and the KV stream fields they live in. */
const BUCKET_FIELDS = [
  ['description', 'description'],
  ['history', 'max_msgs_per_subject'],
  ['max_age', 'max_age'],
  ['replicas', 'num_replicas'],
] as const;

interface BucketPlan {
  change: ProvisionChange;
  bucket: BucketDefinition;
  info: StreamInfo | undefined;
}

function planBucket(bucket: BucketDefinition, info: StreamInfo | undefined): BucketPlan {
  const name = bucket.bucket;
  if (!info) return { bucket, info, change: { kind: 'bucket', name, action: 'created', diff: [] } };
  const actual = info.config as unknown as Record<string, unknown>;
  const diff: string[] = [];
  for (const [field, streamField] of BUCKET_FIELDS) {
    const have = actual[streamField] ?? (field === 'max_age' ? 0 : undefined);
    if (have !== bucket[field]) {
      diff.push(`${name}: ${field} ${formatValue(field, have)} -> ${formatValue(field, bucket[field])}`);
    }
  }
  return {
    bucket,
    info,
    change: { kind: 'bucket', name, action: diff.length > 0 ? 'updated' : 'unchanged', diff },
  };
}

async function recordedPartitions(
  handles: NatsHandles,
  deploymentExists: boolean,
): Promise<{ value: number | undefined; raw: string | undefined }> {
  if (!deploymentExists) return { value: undefined, raw: undefined };
  const kv = await handles.kvm.open(DEPLOYMENT_BUCKET);
  const entry = await kv.get(PARTITIONS_KEY);
  if (entry?.operation !== 'PUT') return { value: undefined, raw: undefined };
  const raw = entry.string();
  const value = Number(raw);
  return { value: Number.isInteger(value) && value > 0 ? value : undefined, raw };
}

function partitionRefusal(recorded: string, wanted: number): Issue {
  return {
    path: `${DEPLOYMENT_BUCKET}/${PARTITIONS_KEY}`,
    message:
      `this deployment was set up with ${recorded} partitions, the configuration asks for ${wanted}: changing ` +
      'it moves conversations to other partitions and breaks per-conversation ordering for events in flight ' +
      '(drain EVENTS first, and set the same count in nats.conf)',
  };
}

function checkReplicas(handles: NatsHandles, defs: Definitions): Issue[] {
  const version = parseServerVersion(handles.nc.info?.version ?? '');
  if (!version || compareVersions(version, KV_CAS_SAFE_REPLICATED) >= 0) return [];
  return defs.buckets
    .filter((b) => b.replicas > 1)
    .map((b) => ({
      path: `${defs.dir}/buckets.json: ${b.bucket}.replicas`,
      message:
        `nats-server ${handles.nc.info?.version} cannot do compare-and-set safely on replicated buckets ` +
        '(fixed in 2.9.21): keep replicas 1 or upgrade',
    }));
}

/**
 * Runs a create; when it fails because another process created the same stream between our plan and
 * this call (processes of a cluster start together; nats-server 2.9 then answers the loser with
 * "subjects overlap with an existing stream"), returns the stream as it now is so the caller updates it
 * to this process's definition instead of failing start-up.
 */
async function createOrFind(
  handles: NatsHandles,
  stream: string,
  create: () => Promise<unknown>,
): Promise<StreamInfo | undefined> {
  try {
    await create();
    return undefined;
  } catch (err) {
    const now = await streamInfo(handles, stream).catch(() => undefined);
    if (now) return now;
    throw err;
  }
}

async function applyBucket(handles: NatsHandles, plan: BucketPlan): Promise<void> {
  const { bucket } = plan;
  let info = plan.info;
  if (!info) {
    info = await createOrFind(handles, kvStreamName(bucket.bucket), () =>
      handles.kvm.create(bucket.bucket, {
        description: bucket.description,
        history: bucket.history,
        replicas: bucket.replicas,
        ...(bucket.max_age > 0 ? { ttl: bucket.max_age / 1e6 } : {}),
      }),
    );
    if (!info) return;
  }
  const update: Partial<StreamConfig> = {
    description: bucket.description,
    max_msgs_per_subject: bucket.history,
    max_age: bucket.max_age,
    num_replicas: bucket.replicas,
  };
  // The server refuses a duplicate window longer than max_age (KV streams get min(2m, max_age)).
  if (bucket.max_age > 0 && info.config.duplicate_window > bucket.max_age)
    update.duplicate_window = bucket.max_age;
  await handles.jsm.streams.update(kvStreamName(bucket.bucket), update);
}

async function applyStream(handles: NatsHandles, plan: StreamPlan): Promise<void> {
  const config = toStreamConfig(plan.config);
  if (plan.change.action === 'created') {
    const raced = await createOrFind(handles, config.name, () => handles.jsm.streams.add(config));
    if (raced) {
      const { name, ...update } = config;
      await handles.jsm.streams.update(name, update);
    }
  } else if (plan.recreate) {
    await handles.jsm.streams.delete(config.name);
    await handles.jsm.streams.add(config);
  } else if (plan.change.action === 'updated') {
    const { name, ...update } = config;
    await handles.jsm.streams.update(name, update);
  }
}

async function recordPartitions(handles: NatsHandles, partitions: number, overwrite: boolean): Promise<void> {
  const kv = await handles.kvm.open(DEPLOYMENT_BUCKET);
  if (overwrite) {
    await kv.put(PARTITIONS_KEY, String(partitions));
    return;
  }
  try {
    await kv.create(PARTITIONS_KEY, String(partitions));
  } catch (err) {
    // Another process recorded it between our read and this write: accept only the same value.
    const { value, raw } = await recordedPartitions(handles, true);
    if (value === partitions) return;
    if (raw !== undefined) {
      throw new ConfigError(
        `refusing to change the partition count (re-run with ${ALLOW_DESTRUCTIVE_FLAG} if you mean it)`,
        [partitionRefusal(raw, partitions)],
      );
    }
    throw err;
  }
}

/** Creates or updates the streams and buckets in `defs` and records the partition count. */
export async function applyDefinitions(
  handles: NatsHandles,
  defs: Definitions,
  opts: ProvisionOptions,
): Promise<ProvisionReport> {
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1) {
    throw new ConfigError('invalid partition count', [
      { path: 'partitions', message: 'must be a positive integer' },
    ]);
  }
  const unsafe = checkReplicas(handles, defs);
  if (unsafe.length > 0) throw new ConfigError('bucket definitions need a newer nats-server', unsafe);

  const refusals: Issue[] = [];
  const bucketPlans: BucketPlan[] = [];
  for (const bucket of defs.buckets) {
    bucketPlans.push(planBucket(bucket, await streamInfo(handles, kvStreamName(bucket.bucket))));
  }
  const streamPlans: StreamPlan[] = [];
  for (const { config } of defs.streams) {
    streamPlans.push(planStream(config, await streamInfo(handles, config.name), refusals));
  }

  const deploymentExists = (await streamInfo(handles, kvStreamName(DEPLOYMENT_BUCKET))) !== undefined;
  const recorded = await recordedPartitions(handles, deploymentExists);
  const deployment: ProvisionChange = {
    kind: 'deployment',
    name: PARTITIONS_KEY,
    action: 'unchanged',
    diff: [],
  };
  if (recorded.raw === undefined) {
    deployment.action = 'created';
    deployment.diff.push(`${PARTITIONS_KEY}: ${opts.partitions}`);
  } else if (recorded.value !== opts.partitions) {
    deployment.action = 'updated';
    deployment.diff.push(`${PARTITIONS_KEY}: ${recorded.raw} -> ${opts.partitions}`);
    refusals.push(partitionRefusal(recorded.raw, opts.partitions));
  }

  if (refusals.length > 0 && !opts.allowDestructive) {
    throw new ConfigError(
      `refusing destructive changes to the NATS definitions (re-run with ${ALLOW_DESTRUCTIVE_FLAG} if you mean it)`,
      refusals,
    );
  }

  const changes = [...bucketPlans.map((p) => p.change), deployment, ...streamPlans.map((p) => p.change)];
  if (opts.dryRun) return { dryRun: true, changes };

  for (const plan of bucketPlans) if (plan.change.action !== 'unchanged') await applyBucket(handles, plan);
  if (deployment.action !== 'unchanged') {
    if (!defs.buckets.some((b) => b.bucket === DEPLOYMENT_BUCKET) && !deploymentExists) {
      await handles.kvm.create(DEPLOYMENT_BUCKET, { history: 5, description: 'Parley deployment facts' });
    }
    await recordPartitions(handles, opts.partitions, deployment.action === 'updated');
  }
  for (const plan of streamPlans) await applyStream(handles, plan);
  await ensureDedupeSecret(handles);
  return { dryRun: false, changes };
}

/** The deployment's dedupe secret (key `dedupe-secret` in parley-deployment), created once by provisioning. */
export const DEDUPE_SECRET_KEY = 'dedupe-secret';

/**
 * Creates the deployment's random dedupe secret if it has none. Parley roles can read it, producers cannot
 * (they have no KV access), so the Nats-Msg-Ids derived from it cannot be forged by a direct producer even
 * when `runtime.dedupe.secret` is not configured (see src/envelope/dedupe-key.ts).
 */
async function ensureDedupeSecret(handles: NatsHandles): Promise<void> {
  const kv = await handles.kvm.open(DEPLOYMENT_BUCKET);
  if ((await kv.get(DEDUPE_SECRET_KEY))?.operation === 'PUT') return;
  await kv.create(DEDUPE_SECRET_KEY, randomBytes(32).toString('base64url')).catch(async (err) => {
    // Another process created it first: that one stands.
    if ((await kv.get(DEDUPE_SECRET_KEY))?.operation !== 'PUT') throw err;
  });
}

/**
 * The Nats-Msg-Id of every event Parley itself publishes into EVENTS (operator resolutions and consent
 * changes, triggers, scheduled events, HTTP events): keyed with the configured dedupe secret, else the
 * deployment's own, so a direct NATS producer cannot pre-empt one by publishing its predictable id first
 * (src/envelope/dedupe-key.ts).
 */
export async function deploymentDedupeKey(
  handles: NatsHandles,
  configured: string | undefined,
): Promise<DedupeKey> {
  return createDedupeKey(configured ?? (await readDedupeSecret(handles)));
}

/** The dedupe secret provisioning created, if any (read with any Parley role's permissions). */
export async function readDedupeSecret(handles: NatsHandles): Promise<string | undefined> {
  try {
    const entry = await (await handles.kvm.open(DEPLOYMENT_BUCKET)).get(DEDUPE_SECRET_KEY);
    return entry?.operation === 'PUT' ? entry.string() : undefined;
  } catch {
    return undefined;
  }
}

export interface ProvisionStatusEntry {
  kind: 'stream' | 'bucket';
  name: string;
  /** Stream backing the entry (KV_<bucket> for buckets). */
  stream: string;
  exists: boolean;
  messages: number;
  bytes: number;
  consumers: number;
  subjects: string[];
}

export interface ProvisionStatus {
  partitions: number | undefined;
  entries: ProvisionStatusEntry[];
}

/** What exists on the server for each definition, with message counts. Changes nothing. */
export async function describeDefinitions(handles: NatsHandles, defs: Definitions): Promise<ProvisionStatus> {
  const entries: ProvisionStatusEntry[] = [];
  const describe = async (kind: 'stream' | 'bucket', name: string, stream: string) => {
    const info = await streamInfo(handles, stream);
    entries.push({
      kind,
      name,
      stream,
      exists: info !== undefined,
      messages: info?.state.messages ?? 0,
      bytes: info?.state.bytes ?? 0,
      consumers: info?.state.consumer_count ?? 0,
      subjects: info?.config.subjects ?? [],
    });
  };
  for (const { config } of defs.streams) await describe('stream', config.name, config.name);
  for (const bucket of defs.buckets) await describe('bucket', bucket.bucket, kvStreamName(bucket.bucket));
  const deploymentExists = (await streamInfo(handles, kvStreamName(DEPLOYMENT_BUCKET))) !== undefined;
  const { value } = await recordedPartitions(handles, deploymentExists);
  return { partitions: value, entries };
}
