/**
 * Loads the JetStream definitions kept as data in `streams/`: one `<NAME>.json` per stream, in the JetStream
 * API's own StreamConfig JSON (so `nats stream add --config streams/EVENTS.json` works too), and `buckets.json`
 * listing the KV buckets. Other files in the directory belong to other loaders and are left alone.
 *
 * What must stay true: a definition holds only settings nats-server 2.9 honours (2.10-only keys are refused by
 * name, since 2.9 would ignore or reject them), durations are nanoseconds, and every problem is reported at
 * once with its file and field. Only the keys written in a file are kept, so provisioning compares just those.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StreamConfig } from '@nats-io/jetstream';
import { z } from 'zod';
import { ConfigError, type Issue } from '../errors/app-error.js';

export const BUCKETS_FILE = 'buckets.json';

/** Stream definition files are named after their stream, in capitals: EVENTS.json. */
const STREAM_FILE = /^[A-Z][A-Z0-9_-]*\.json$/;

/** Keys that need nats-server 2.10 or newer; 2.9.10 rejects some and silently ignores others. */
const NEEDS_2_10 = [
  'subject_transform',
  'metadata',
  'compression',
  'first_seq',
  'consumer_limits',
  'allow_msg_ttl',
  'subject_delete_marker_ttl',
  'allow_msg_counter',
  'allow_atomic',
  'allow_msg_schedules',
  'persist_mode',
];

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, - and _ only');
const limit = z.number().int().min(-1).describe('-1 = unlimited');
// Not .int(): zod 4 caps that at 2^53, about 104 days in nanoseconds; round durations beyond it are exact doubles.
const nanos = z
  .number()
  .min(0)
  .refine(Number.isInteger, { message: 'must be whole nanoseconds' })
  .describe('nanoseconds; 0 = unlimited');
const subject = z
  .string()
  .regex(/^[^\s.]+(\.[^\s.]+)*$/, 'a subject: dot-separated tokens, no spaces')
  .refine((s) => !s.split('.').some((t, i, all) => t.includes('>') && (t !== '>' || i !== all.length - 1)), {
    message: '">" may only be the whole last token',
  });

const StreamSourceSchema = z
  .object({
    name,
    opt_start_seq: z.number().int().min(0).optional(),
    opt_start_time: z.string().optional(),
    filter_subject: z.string().optional(),
    external: z.object({ api: z.string(), deliver: z.string().optional() }).strict().optional(),
  })
  .strict();

export const StreamDefinitionSchema = z
  .object({
    name,
    description: z.string().min(1).max(4096).describe('What the stream holds, for operators'),
    subjects: z.array(subject).min(1),
    retention: z.enum(['limits', 'interest', 'workqueue']),
    storage: z.enum(['file', 'memory']),
    discard: z.enum(['old', 'new']).optional(),
    max_consumers: limit.optional(),
    max_msgs: limit.optional(),
    max_bytes: limit.optional(),
    max_age: nanos,
    max_msgs_per_subject: limit.optional(),
    max_msg_size: limit.optional(),
    duplicate_window: nanos.optional(),
    num_replicas: z.number().int().min(1).max(5),
    allow_direct: z.boolean().optional(),
    mirror_direct: z.boolean().optional(),
    allow_rollup_hdrs: z.boolean().optional(),
    deny_delete: z.boolean().optional(),
    deny_purge: z.boolean().optional(),
    no_ack: z.boolean().optional(),
    sources: z.array(StreamSourceSchema).optional(),
    placement: z
      .object({ cluster: z.string().optional(), tags: z.array(z.string()).optional() })
      .strict()
      .optional(),
    republish: z
      .object({ src: z.string(), dest: z.string(), headers_only: z.boolean().optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.duplicate_window !== undefined && s.max_age > 0 && s.duplicate_window > s.max_age) {
      ctx.addIssue({
        code: 'custom',
        path: ['duplicate_window'],
        message: 'must not be longer than max_age (the server refuses it)',
      });
    }
  });

export const BucketDefinitionSchema = z
  .object({
    bucket: name.describe('Bucket name; its stream is KV_<bucket>'),
    description: z.string().min(1).max(4096).describe('What the bucket holds, for operators'),
    history: z.number().int().min(1).max(64).describe('Values kept per key (1-64)'),
    max_age: nanos.refine((n) => n % 1_000_000 === 0, { message: 'must be whole milliseconds' }),
    replicas: z.number().int().min(1).max(5),
  })
  .strict();

export type StreamDefinitionConfig = z.infer<typeof StreamDefinitionSchema>;
export type BucketDefinition = z.infer<typeof BucketDefinitionSchema>;

export interface StreamDefinition {
  /** The file it came from. */
  file: string;
  config: StreamDefinitionConfig;
}

export interface Definitions {
  dir: string;
  streams: StreamDefinition[];
  buckets: BucketDefinition[];
}

/** A stream definition as the client's StreamConfig (the JSON is the same; only the optional typing differs). */
export function toStreamConfig(config: StreamDefinitionConfig): StreamConfig {
  return structuredClone(config) as unknown as StreamConfig;
}

function fieldPath(file: string, path: readonly PropertyKey[]): string {
  const field = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return field ? `${file}: ${field.replace(/^\./, '')}` : file;
}

function readJson(file: string, issues: Issue[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    issues.push({ path: file, message: err instanceof SyntaxError ? err.message : `cannot read: ${err}` });
    return undefined;
  }
}

function parseStream(file: string, raw: unknown, issues: Issue[]): StreamDefinitionConfig | undefined {
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const newer = NEEDS_2_10.filter((k) => k in raw);
    for (const key of newer) {
      issues.push({
        path: fieldPath(file, [key]),
        message: 'needs nats-server 2.10 or newer; Parley supports 2.9, remove it',
      });
    }
    if (newer.length > 0) return undefined;
  }
  const result = StreamDefinitionSchema.safeParse(raw);
  const issuesBefore = issues.length;
  if (!result.success) {
    for (const i of result.error.issues) issues.push({ path: fieldPath(file, i.path), message: i.message });
  }
  const expected = basename(file, '.json');
  const name = (raw as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && name !== expected) {
    issues.push({ path: fieldPath(file, ['name']), message: `must be "${expected}", the file's name` });
  }
  return result.success && issues.length === issuesBefore ? result.data : undefined;
}

function overlapping(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '>' || q === '>') return p !== undefined && q !== undefined;
    if (p === undefined || q === undefined) return false;
    if (p !== q && p !== '*' && q !== '*') return false;
  }
  return true;
}

/** Reads and validates every definition in `dir`; throws one ConfigError listing all issues. */
export function loadDefinitions(dir: string): Definitions {
  const issues: Issue[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (err) {
    throw new ConfigError(`cannot read the stream definitions directory ${dir}`, [], err);
  }

  const streams: StreamDefinition[] = [];
  for (const entry of entries.filter((e) => STREAM_FILE.test(e))) {
    const file = join(dir, entry);
    const raw = readJson(file, issues);
    if (raw === undefined) continue;
    const config = parseStream(file, raw, issues);
    if (config) streams.push({ file, config });
  }
  for (const [i, a] of streams.entries()) {
    for (const b of streams.slice(i + 1)) {
      for (const sa of a.config.subjects) {
        const sb = b.config.subjects.find((s) => overlapping(sa, s));
        if (sb) {
          issues.push({
            path: fieldPath(b.file, ['subjects']),
            message: `"${sb}" overlaps "${sa}" of ${a.config.name}; a subject belongs to one stream`,
          });
        }
      }
    }
  }

  const buckets: BucketDefinition[] = [];
  const bucketsFile = join(dir, BUCKETS_FILE);
  if (!entries.includes(BUCKETS_FILE)) {
    issues.push({ path: bucketsFile, message: 'missing: list the KV buckets here' });
  } else {
    const raw = readJson(bucketsFile, issues);
    if (raw !== undefined) {
      const result = z.array(BucketDefinitionSchema).safeParse(raw);
      if (!result.success) {
        for (const i of result.error.issues) {
          issues.push({ path: fieldPath(bucketsFile, i.path), message: i.message });
        }
      } else {
        const seen = new Set<string>();
        for (const [i, b] of result.data.entries()) {
          if (seen.has(b.bucket)) {
            issues.push({
              path: fieldPath(bucketsFile, [i, 'bucket']),
              message: `"${b.bucket}" is listed twice`,
            });
          }
          seen.add(b.bucket);
        }
        buckets.push(...result.data);
      }
    }
  }

  if (streams.length === 0 && issues.length === 0) {
    issues.push({ path: dir, message: 'no stream definitions (<NAME>.json files)' });
  }
  if (issues.length > 0) throw new ConfigError(`invalid stream definitions in ${dir}`, issues);
  return { dir, streams, buckets };
}
