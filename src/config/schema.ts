/**
 * The parley.yaml schema: every key, its default and its meaning. `.strict()` everywhere so a typo fails
 * loudly. `ParleyOptions` is what a user writes (all optional); `ParleyConfig` is the parsed, defaulted form.
 */
import { z } from 'zod';
import { OperatorsSchema } from '../http/operators.js';
import { ChannelsSchema, ConnectorsSchema, SimPlatformSchema } from './connectors-schema.js';
import { SafetySchema, TenantSafetySchema } from './safety-schema.js';
import { SourcesSchema } from './sources-schema.js';

const token = /^[A-Za-z0-9_-]+$/;

export const NatsEmbeddedSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('Address the embedded nats-server listens on'),
    port: z
      .number()
      .int()
      .min(-1)
      .max(65535)
      .default(4222)
      .describe('Client port of the embedded nats-server; -1 picks a free port'),
    binary: z.string().default('nats-server').describe('nats-server executable (looked up on PATH)'),
    storeDir: z.string().optional().describe('JetStream store directory; default <dataDir>/nats'),
    auth: z
      .boolean()
      .default(true)
      .describe(
        'Generate NATS users per role (passwords in <dataDir>/nats-credentials.json, mode 0600); false runs ' +
          'the embedded server without authentication',
      ),
  })
  .strict();

export const NatsTlsSchema = z
  .object({
    ca: z.string().optional().describe('PEM file of the CA that signed the server certificate'),
    cert: z.string().optional().describe('PEM client certificate (when the server verifies clients)'),
    key: z.string().optional().describe('PEM private key of the client certificate'),
  })
  .strict();

export const NatsSchema = z
  .object({
    url: z
      .string()
      .optional()
      .describe('NATS server URL(s), comma separated; omit to start an embedded nats-server'),
    user: z.string().optional().describe('NATS user name'),
    pass: z.string().optional().describe('NATS password'),
    token: z.string().optional().describe('NATS auth token'),
    creds: z.string().optional().describe('Path to a NATS .creds file'),
    nkey: z.string().optional().describe('Path to an NKey seed file (SU...) for nkey authentication'),
    tls: NatsTlsSchema.optional().describe('TLS to the NATS server; set (even empty) to require TLS'),
    inboxPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens, no wildcards')
      .optional()
      .describe('Reply subject prefix; default _INBOX.<user> when nats.user is set (what nats.conf grants)'),
    name: z.string().default('parley').describe('Connection name shown in `nats server report connections`'),
    embedded: NatsEmbeddedSchema.default(NatsEmbeddedSchema.parse({})),
  })
  .strict();

export const HttpTlsSchema = z
  .object({
    cert: z.string().describe('PEM certificate file (chain) of the listener'),
    key: z.string().describe('PEM private key file of the listener'),
    ca: z.string().optional().describe('PEM file of the CA(s) client certificates must chain to (mTLS)'),
    clientAuth: z
      .enum(['none', 'request', 'require'])
      .default('none')
      .describe('mTLS: none, request (verify when offered) or require (refuse clients without one)'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if (tls.clientAuth !== 'none' && !tls.ca) {
      ctx.addIssue({
        code: 'custom',
        path: ['ca'],
        message: `clientAuth "${tls.clientAuth}" needs a ca file`,
      });
    }
  });

export const IngestLimitsSchema = z
  .object({
    maxAttributeDepth: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe('Nesting depth of event attributes (objects and arrays)'),
    maxAttributesBytes: z
      .number()
      .int()
      .min(256)
      .default(32 * 1024)
      .describe("Size of one event's attributes as JSON, in bytes"),
    maxStringLength: z
      .number()
      .int()
      .min(16)
      .default(8192)
      .describe('Longest string value inside attributes, in characters'),
    maxKeyLength: z.number().int().min(8).default(128).describe('Longest attribute key, in characters'),
    maxFutureSeconds: z
      .number()
      .int()
      .min(0)
      .default(600)
      .describe('How far occurredAt may lie in the future (clock skew allowance); older times are accepted'),
    dedupeWindowSeconds: z
      .number()
      .int()
      .min(1)
      .default(60)
      .describe('Time bucket of occurredAt in the derived idempotency key of events sent without an id'),
  })
  .strict();

/** Lifetime of a signed request's replay claim: max_age of the parley-replay bucket (streams/buckets.json). */
export const REPLAY_CLAIM_SECONDS = 600;
/** A signature is accepted from timestamp - tolerance to timestamp + tolerance: that span fits the claim. */
export const MAX_SIGNATURE_TOLERANCE_SECONDS = REPLAY_CLAIM_SECONDS / 2;

/** Idle expiry ceiling of an inbox session: the max_age of the parley-inbox-sessions bucket (streams/buckets.json). */
export const MAX_INBOX_IDLE_MINUTES = 24 * 60;

export const InboxSchema = z
  .object({
    fullText: z
      .boolean()
      .default(false)
      .describe(
        'Show operators the whole text of the message an escalation was raised on (read from EVENTS), ' +
          "besides the classifier's snippet; default false: the snippet only",
      ),
    sessionIdleMinutes: z
      .number()
      .int()
      .min(1)
      .max(
        MAX_INBOX_IDLE_MINUTES,
        `at most ${MAX_INBOX_IDLE_MINUTES}: sessions are kept at most a day unused`,
      )
      .default(480)
      .describe('A signed-in inbox session unused this long expires (every request extends it)'),
    sessionMaxHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24)
      .describe('A session ends this long after sign-in, however busy'),
  })
  .strict();

export const HttpSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('HTTP listen address'),
    port: z.number().int().min(0).max(65535).default(8080).describe('HTTP listen port; 0 picks a free port'),
    tls: HttpTlsSchema.optional().describe('Serve HTTPS (and optionally require client certificates)'),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Largest request body accepted, in bytes (413 above it)'),
    maxBatch: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(1000)
      .describe('Events per POST /v1/events (max 1000)'),
    publishTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('How long a request waits for NATS to acknowledge its events before answering 503'),
    retryAfterSeconds: z.number().int().min(1).default(2).describe('Retry-After sent with 503 responses'),
    signatureToleranceSeconds: z
      .number()
      .int()
      .min(1)
      .max(
        MAX_SIGNATURE_TOLERANCE_SECONDS,
        `at most ${MAX_SIGNATURE_TOLERANCE_SECONDS}: a signed request is accepted for twice the tolerance ` +
          `(timestamp ± tolerance) and replay claims expire after ${REPLAY_CLAIM_SECONDS} s; a larger ` +
          'tolerance would accept a replay once its claim expired',
      )
      .default(300)
      .describe(
        'Accepted clock difference for HMAC-signed requests (webhook-timestamp), in seconds; at most ' +
          `${MAX_SIGNATURE_TOLERANCE_SECONDS}, so the acceptance window never outlives the replay claim`,
      ),
    limits: IngestLimitsSchema.default(IngestLimitsSchema.parse({})),
    inbox: InboxSchema.default(InboxSchema.parse({})).describe('The operator inbox page at /inbox'),
  })
  .strict();

export const DedupeSchema = z
  .object({
    horizonMs: z
      .number()
      .int()
      .min(0)
      .default(24 * 60 * 60 * 1000)
      .describe(
        'How long (stream time, ms) a conversation remembers an applied event id: a repeat within it is ' +
          'acked without effect on every path; keep it longer than the EVENTS duplicate window (10 min)',
      ),
    maxIds: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(1000)
      .describe(
        'At most this many ids remembered per conversation (12 bytes each in its state); 0 turns it off',
      ),
    secret: z
      .string()
      .min(16)
      .optional()
      .describe(
        'Key of the Nats-Msg-Id the HTTP ingest derives (same value on every process); without it the id ' +
          'is <tenant>:<event id>, which a direct NATS producer could pre-empt (see docs/api.md, Dedupe)',
      ),
  })
  .strict();

export const RuntimeSchema = z
  .object({
    partitions: z
      .string()
      .default('auto')
      .describe(
        'Partitions this process owns: "auto" (dynamic: an even share among the live actor processes, moving when one joins, leaves or dies), or pinned: "all" or ranges like "0-15,32" (taken over from any holder)',
      ),
    mailboxCapacity: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe('Messages one conversation may have queued before the partition stops pulling'),
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .default(20000)
      .describe('Un-acked messages held by this process across all partitions (backpressure bound)'),
    pullBatch: z.number().int().min(1).default(512).describe('Messages requested per pull from a partition'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .default(64)
      .describe('Events one actor folds into a single state commit'),
    passivateAfterMs: z
      .number()
      .int()
      .min(0)
      .default(30000)
      .describe('Idle time after which an actor is dropped from memory (its state is already in KV)'),
    maxActors: z
      .number()
      .int()
      .min(1)
      .default(50000)
      .describe('Live actors kept in memory; the least recently used idle ones are passivated first'),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Tries for an event whose processing fails before it is dead-lettered'),
    retryInitialMs: z.number().int().min(1).default(100).describe('First retry delay (doubles, with jitter)'),
    retryMaxMs: z.number().int().min(1).default(5000).describe('Longest retry delay'),
    ackWaitMs: z
      .number()
      .int()
      .min(1000)
      .default(30000)
      .describe('AckWait of the partition consumers; long steps call working() to extend it'),
    leaseTtlMs: z
      .number()
      .int()
      .min(300)
      .default(6000)
      .describe('Partition lease lifetime; renewed every third of it; a taker waits this long'),
    dedupe: DedupeSchema.default(DedupeSchema.parse({})).describe(
      'Event-id dedupe beyond the stream: what each conversation remembers, and the key of message ids',
    ),
  })
  .strict();

export const TenantSchema = z
  .object({
    auth: z
      .object({
        tokens: z
          .array(z.string().min(1))
          .default([])
          .describe('Bearer tokens (plaintext for development, or sha256:<hex>)'),
        signingSecrets: z
          .array(z.string().min(16))
          .default([])
          .describe('HMAC secrets for signed requests (Standard Webhooks: whsec_<base64>, or raw text)'),
      })
      .strict()
      .default({ tokens: [], signingSecrets: [] }),
    timeZone: z.string().default('UTC').describe('IANA time zone for schedules and defaults'),
    channels: ChannelsSchema.default({}),
    safety: TenantSafetySchema.optional().describe('Safety overrides for this tenant (see docs/safety.md)'),
  })
  .strict();

export const AdminSchema = z
  .object({
    tokens: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Deprecated: bearer tokens of one all-roles operator named "admin"; list operators: instead ' +
          '(plaintext for development, or sha256:<hex>)',
      ),
  })
  .strict();

export const ParleySchema = z
  .object({
    dataDir: z.string().default('.parley').describe('Local data (embedded NATS store, generated config)'),
    nats: NatsSchema.default(NatsSchema.parse({})),
    http: HttpSchema.default(HttpSchema.parse({})),
    partitions: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(64)
      .describe('Partition count of the EVENTS stream; fixed per deployment'),
    rules: z.string().default('rules/').describe('Directory of rule and journey YAML files'),
    streams: z.string().default('streams/').describe('Directory of stream, consumer and bucket definitions'),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        format: z
          .enum(['auto', 'json', 'pretty'])
          .default('auto')
          .describe('auto: human-readable on a terminal, JSON lines otherwise; json; pretty (--log-format)'),
      })
      .strict()
      .default({ level: 'info', format: 'auto' }),
    runtime: RuntimeSchema.default(RuntimeSchema.parse({})),
    connectors: ConnectorsSchema.default(ConnectorsSchema.parse({})).describe(
      'Connector runner: in-flight bound, retries, timeouts, token leases (see docs/connectors.md)',
    ),
    simPlatform: SimPlatformSchema.default(SimPlatformSchema.parse({})).describe(
      'Simulated social platform and webhook receiver for demos and tests (parley sim-platform)',
    ),
    tenants: z
      .record(z.string().regex(token, 'tenant ids use letters, digits, - and _'), TenantSchema)
      .default({}),
    admin: AdminSchema.default(AdminSchema.parse({})),
    operators: OperatorsSchema.describe(
      'Operators of the admin API, CLI and inbox: { name, token, roles, tenants? } (README "Operators and roles")',
    ),
    safety: SafetySchema.default(SafetySchema.parse({})).describe(
      'Classifiers, guards, escalation, pause and model settings (see docs/safety.md)',
    ),
    sources: SourcesSchema.default({}).describe(
      'Event sources run by the source role, e.g. a Postgres outbox (see src/sources/postgres/README.md)',
    ),
  })
  .strict();

export type ParleyOptions = z.input<typeof ParleySchema>;
export type ParleyConfig = z.output<typeof ParleySchema>;
export type RuntimeConfig = ParleyConfig['runtime'];
