/**
 * NATS users and least-privilege permissions per Parley role, rendered into the `accounts` block of nats.conf.
 *
 * Two accounts, no `authorization` block (mixing the two is what CVE-2023-47090, fixed in 2.9.23, exploited;
 * with accounts only and no `no_auth_user`, a client without credentials is refused):
 *   - PARLEY: JetStream, the ingest partition mapping and the role users `ingest` (HTTP API), `actors`,
 *     `connectors` and `admin` (operators, provisioning: everything).
 *   - PRODUCERS: one user per tenant for direct `nats pub ingest.<tenant>.…` producers. It imports the
 *     `ingest.>` service from PARLEY, so a message crosses into PARLEY as `ingest.…` and is partitioned there.
 *     A producer can publish only `ingest.<its tenant>.>` and can never reach `evt.>` or any JetStream API.
 *
 * What must stay true (verified on nats-server 2.9.10 by test/integration/nats-permissions.test.ts):
 *   - 2.9 checks publish permissions against the subject *after* the account's subject mapping, so a PARLEY
 *     user that publishes `ingest.…` needs `evt.>`; that is why untrusted producers live in PRODUCERS, where
 *     no mapping applies and the check sees `ingest.<tenant>.…`.
 *   - Replies arrive under a per-user inbox prefix `_INBOX.<user>` (Parley sets it from nats.user), so one
 *     role cannot read another role's JetStream API responses or KV reads.
 */

import { ENGINE_TYPE_PREFIXES } from '../contracts/event-types.js';

/** The roles with a NATS user of their own in the PARLEY account. */
export const NATS_ROLES = ['ingest', 'actors', 'connectors', 'admin'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

export const PARLEY_ACCOUNT = 'PARLEY';
export const PRODUCERS_ACCOUNT = 'PRODUCERS';

export interface Permissions {
  publish: string[];
  subscribe: string[];
  /** Subjects denied even where `publish` allows them. */
  publishDeny?: string[];
}

/** A password in nats.conf: a literal (embedded server) or an environment variable the server reads. */
export type Secret = { value: string } | { env: string };

export interface ServerAuthorization {
  /** Password of each role user. */
  roles: Record<NatsRole, Secret>;
  /** Direct producers: tenant id -> password of user `producer-<tenant>`. */
  producers?: Record<string, Secret>;
}

/** Environment variables the checked-in nats.conf reads the role passwords from. */
export const ROLE_PASSWORD_ENV: Record<NatsRole, string> = {
  ingest: 'NATS_PASSWORD_INGEST',
  actors: 'NATS_PASSWORD_ACTORS',
  connectors: 'NATS_PASSWORD_CONNECTORS',
  admin: 'NATS_PASSWORD_ADMIN',
};

export function inboxPrefixFor(user: string): string {
  return `_INBOX.${user}`;
}

export function producerUser(tenant: string): string {
  return `producer-${tenant}`;
}

const JS = '$JS.API';

/** Read a KV bucket: open it (stream info) and get keys (direct get or message get). */
function kvRead(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [`${JS}.DIRECT.GET.${stream}`, `${JS}.DIRECT.GET.${stream}.>`, `${JS}.STREAM.MSG.GET.${stream}`];
}

/** Read and write a KV bucket (puts, creates and CAS updates are publishes to $KV.<bucket>.<key>). */
function kvWrite(bucket: string): string[] {
  return [...kvRead(bucket), `$KV.${bucket}.>`];
}

/** Watch a KV bucket (ordered consumer on its stream, with flow control). */
function kvWatch(bucket: string): string[] {
  return [...consume(`KV_${bucket}`), `$JS.FC.KV_${bucket}.>`];
}

/** Create, inspect, delete and pull from consumers of one stream, and ack its messages. */
function consume(stream: string): string[] {
  return [
    `${JS}.CONSUMER.CREATE.${stream}`,
    `${JS}.CONSUMER.CREATE.${stream}.>`,
    `${JS}.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `${JS}.CONSUMER.INFO.${stream}.>`,
    `${JS}.CONSUMER.DELETE.${stream}.>`,
    `${JS}.CONSUMER.MSG.NEXT.${stream}.>`,
    `${JS}.CONSUMER.NAMES.${stream}`,
    `${JS}.CONSUMER.LIST.${stream}`,
    `$JS.ACK.${stream}.>`,
  ];
}

/**
 * Every role: account info, stream info (start-up verifies the definitions), the deployment facts, and the
 * operator switches and consent records every process keeps a watched snapshot of (src/safety-role.ts).
 */
const COMMON = [
  `${JS}.INFO`,
  `${JS}.STREAM.INFO.*`,
  `${JS}.STREAM.NAMES`,
  ...kvRead('parley-deployment'),
  ...kvRead('parley-control'),
  ...kvWatch('parley-control'),
  ...kvRead('parley-consent'),
  ...kvWatch('parley-consent'),
];

function unique(subjects: string[]): string[] {
  return [...new Set(subjects)];
}

/**
 * Publishing an event: `ingest.>` is what the code publishes; `evt.>` is what 2.9 checks after the mapping.
 */
const PUBLISH_EVENTS = ['ingest.>', 'evt.>'];

/**
 * The connector stage: ACTIONS consumers (`connectors-pNN`, one per partition), rate-limit buckets and
 * tenant daily caps (parley-tokens), execution records (parley-executions). Granted to `connectors` and,
 * since the stage runs inside the actors process under the partition's lease, to `actors` too.
 */
const CONNECTOR_STAGE = [...consume('ACTIONS'), ...kvWrite('parley-tokens'), ...kvWrite('parley-executions')];

/** The parley-control keys of operator switches (scopes of src/safety/control.ts): global, tenant.…, rule.…, channel.… */
export const OPERATOR_SWITCH_KEYS = ['global', 'tenant.>', 'rule.>', 'channel.>'] as const;

/**
 * Event types only the engine emits (src/contracts/event-types.ts), as the type's first token. The HTTP
 * ingest publishes operator events (admin.*) but never these; denied to it both as published (`ingest.…`) and
 * as 2.9 checks them after the mapping (`evt.<p>.…`).
 */
const EMITTED_BY_ENGINE = ENGINE_TYPE_PREFIXES.filter((p) => p !== 'admin');
const INGEST_DENY = EMITTED_BY_ENGINE.flatMap((type) => [
  `ingest.*.*.${type}`,
  `ingest.*.*.${type}.>`,
  `evt.*.*.*.${type}`,
  `evt.*.*.*.${type}.>`,
]);

/** The grants of each role user in the PARLEY account. Subscribe grants are the user's own inbox only. */
export const ROLE_PERMISSIONS: Record<NatsRole, Permissions> = {
  ingest: {
    publish: unique([
      ...COMMON,
      ...PUBLISH_EVENTS,
      ...kvWrite('parley-replay'),
      ...kvWrite('parley-inbox-sessions'), // operator inbox sessions, shared by every ingest process
      ...kvRead('parley-state'),
      ...consume('AUDIT'),
      // The conversation trail: approved actions are their own audit records (src/nats/conversation-reader.ts).
      // Read with an ordered consumer: create, pull, delete; never ack (the connectors' consumers ack).
      `${JS}.CONSUMER.CREATE.ACTIONS`,
      `${JS}.CONSUMER.CREATE.ACTIONS.>`,
      `${JS}.CONSUMER.MSG.NEXT.ACTIONS.>`,
      `${JS}.CONSUMER.DELETE.ACTIONS.>`,
      `${JS}.DIRECT.GET.AUDIT`,
      `${JS}.STREAM.MSG.GET.AUDIT`,
      `${JS}.CONSUMER.LIST.EVENTS`, // readiness: are the partition consumers bound
      // EVENTS messages by sequence: the resolution that won when two operators resolve at once (who won),
      // and the message an escalation was raised on when the inbox shows full text (http.inbox.fullText).
      // The grant cannot be narrowed to those: it reads any EVENTS message (every tenant's), one at a time.
      `${JS}.STREAM.MSG.GET.EVENTS`,
      // Operator safety routes (src/http/routes/safety.ts): escalations, switches, operator audit records.
      ...consume('ESCALATIONS'),
      // The switch keys operators set and lift (pause/resume; src/safety/control.ts), not the escalation holds
      // under escalation.<t>.<c>, which only the escalated conversation's actor writes.
      ...OPERATOR_SWITCH_KEYS.map((key) => `$KV.parley-control.${key}`),
      'audit.operator.>',
      // POST /v1/evaluate and /v1/trigger decide with the current (hot-reloaded) rule set.
      ...kvRead('parley-rules'),
      ...kvWatch('parley-rules'),
    ]),
    publishDeny: INGEST_DENY,
    subscribe: [`${inboxPrefixFor('ingest')}.>`],
  },
  actors: {
    publish: unique([
      ...COMMON,
      ...PUBLISH_EVENTS,
      'act.>',
      'esc.>',
      'audit.>',
      'dlq.>',
      ...consume('EVENTS'),
      ...kvWrite('parley-state'),
      ...kvWrite('parley-leases'),
      ...kvWrite('parley-timers'),
      ...kvWatch('parley-timers'),
      ...kvWrite('parley-consent'), // an opt-out reply enrolls DND
      '$KV.parley-control.escalation.>', // escalation holds, written by the escalated conversation's actor
      ...kvRead('parley-rules'),
      ...kvWatch('parley-rules'),
      // The scheduler role runs as this user: it lists a tenant's conversations and records its runs.
      ...kvWatch('parley-state'),
      '$KV.parley-deployment.schedule-runs.>',
      // Membership and ownership: list the members.<owner> heartbeats and partitions.<n> leases.
      ...kvWatch('parley-leases'),
      // The connector stage of each owned partition runs in this process, under the partition's lease:
      // its ACTIONS consumer (connectors-pNN, filter act.<p>.>), rate-limit buckets and tenant daily caps,
      // execution records; outcomes go back through ingest.> (above), dead letters to dlq.>, records to audit.>.
      ...CONNECTOR_STAGE,
    ]),
    subscribe: [`${inboxPrefixFor('actors')}.>`],
  },
  connectors: {
    publish: unique([...COMMON, ...PUBLISH_EVENTS, 'audit.>', 'dlq.>', ...CONNECTOR_STAGE]),
    subscribe: [`${inboxPrefixFor('connectors')}.>`],
  },
  admin: { publish: ['>'], subscribe: ['>'] },
};

/** A direct producer for one tenant: its own ingest subjects, and its inbox for JetStream acks. */
export function producerPermissions(tenant: string): Permissions {
  return {
    publish: [`ingest.${tenant}.>`],
    // Parley's own event types never come from a producer: operator events (escalation resolutions, consent
    // changes, triggers) and what the engine emits itself (outcomes, detector signals, timer wake-ups).
    publishDeny: ENGINE_TYPE_PREFIXES.flatMap((type) => [
      `ingest.${tenant}.*.${type}`,
      `ingest.${tenant}.*.${type}.>`,
    ]),
    subscribe: [`${inboxPrefixFor(producerUser(tenant))}.>`],
  };
}

const ROLE_PURPOSE: Record<NatsRole, string> = {
  ingest:
    'HTTP API: publishes tenant and operator events (never action./detector./timer.), reads conversation ' +
    'state and audit, EVENTS messages by sequence (no consumers), replay-guard and inbox-sessions buckets, ' +
    'operator switches (global, tenant.*, rule.*, channel.*; not holds)',
  actors:
    "conversation actors and their partitions' connector stage: EVENTS and ACTIONS partition consumers, " +
    'state/leases/consent, token buckets, execution records, publishes effects and outcomes',
  connectors:
    'connector stage only (ACTIONS consumers, token buckets, execution records, outcomes back to EVENTS)',
  admin: 'operators and provisioning (parley streams apply, nats CLI): everything',
};

function quote(value: string): string {
  return JSON.stringify(value);
}

function renderSecret(secret: Secret): string {
  // A bare $NAME is a variable reference: nats-server reads it from its environment (or a bcrypt hash in it).
  return 'env' in secret ? `$${secret.env}` : quote(secret.value);
}

function renderList(items: string[], indent: string): string {
  return `[\n${items.map((i) => `${indent}  ${quote(i)}`).join('\n')}\n${indent}]`;
}

function renderUser(
  user: string,
  secret: Secret,
  perms: Permissions,
  indent: string,
  comment?: string,
): string {
  const inner = `${indent}  `;
  return [
    ...(comment ? [`${indent}# ${comment}`] : []),
    `${indent}{`,
    `${inner}user: ${quote(user)}`,
    `${inner}password: ${renderSecret(secret)}`,
    `${inner}permissions: {`,
    `${inner}  publish: { allow: ${renderList(perms.publish, `${inner}  `)}${
      perms.publishDeny ? `, deny: ${renderList(perms.publishDeny, `${inner}  `)}` : ''
    } }`,
    `${inner}  subscribe: { allow: ${renderList(perms.subscribe, `${inner}  `)} }`,
    `${inner}}`,
    `${indent}}`,
  ].join('\n');
}

const PRODUCER_EXAMPLE = `    # One user per tenant publishing straight to NATS, e.g. for tenant acme:
    # {
    #   user: "producer-acme"
    #   password: $NATS_PASSWORD_PRODUCER_ACME
    #   permissions: {
    #     publish: { allow: ["ingest.acme.>"], deny: [${ENGINE_TYPE_PREFIXES.flatMap((t) => [`"ingest.acme.*.${t}"`, `"ingest.acme.*.${t}.>"`]).join(', ')}] }
    #     subscribe: { allow: ["_INBOX.producer-acme.>"] }
    #   }
    # }`;

/**
 * The `accounts { … }` block: PARLEY (JetStream, `mappingLine`, role users) and PRODUCERS (per-tenant users).
 * `mappingLine` is the `"ingest.*.*.>": "evt.…"` entry; with accounts, mappings live inside the account.
 */
export function renderAccounts(auth: ServerAuthorization, mappingLine: string): string {
  const roleUsers = NATS_ROLES.map((role) =>
    renderUser(role, auth.roles[role], ROLE_PERMISSIONS[role], '      ', ROLE_PURPOSE[role]),
  );
  const producers = Object.entries(auth.producers ?? {}).map(([tenant, secret]) =>
    renderUser(producerUser(tenant), secret, producerPermissions(tenant), '      '),
  );
  return [
    `# --- Users and permissions per role -------------------------------------------------------------------------`,
    `# Accounts only (no authorization block, no no_auth_user): a client without valid credentials is refused.`,
    `# Each role connects as its own user and receives replies under _INBOX.<user> (Parley sets that prefix).`,
    `# nats-server 2.9 checks publish permissions after the subject mapping, hence "evt.>" for Parley's own`,
    `# event publishers; untrusted producers live in ${PRODUCERS_ACCOUNT}, which can only reach ingest.<tenant>.>`,
    `# through a service import. A password may also be a bcrypt hash (nats server passwd).`,
    'accounts {',
    `  ${PARLEY_ACCOUNT} {`,
    '    jetstream: enabled',
    '    mappings = {',
    `      ${mappingLine}`,
    '    }',
    '    exports: [ { service: "ingest.>" } ]',
    '    users: [',
    [...roleUsers].join('\n'),
    '    ]',
    '  }',
    `  ${PRODUCERS_ACCOUNT} {`,
    `    imports: [ { service: { account: ${PARLEY_ACCOUNT}, subject: "ingest.>" } } ]`,
    '    users: [',
    producers.length > 0 ? producers.join('\n') : PRODUCER_EXAMPLE,
    '    ]',
    '  }',
    '}',
    `# ------------------------------------------------------------------------------------------------------------`,
    '',
  ].join('\n');
}
