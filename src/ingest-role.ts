/**
 * The ingest role, part of the composition root (main.ts): wires the HTTP app (src/http, no NATS imports) to
 * its NATS adapters and listens. Stopping closes the listener after in-flight requests have been answered,
 * so it comes first in the drain order: no new events while the rest of the process drains.
 */

import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ParleyConfig } from './config/schema.js';
import { DeadLetters } from './connectors/dead-letters.js';
import { createDedupeKey } from './envelope/dedupe-key.js';
import { type AppTls, buildApp } from './http/build-app.js';
import type { RuleRoutesOptions } from './http/routes/rules.js';
import type { NatsHandles } from './nats/connection.js';
import { ConnectionWatch } from './nats/connection-watch.js';
import { NatsConversationReader } from './nats/conversation-reader.js';
import { loadDefinitions } from './nats/definitions.js';
import { NatsDeadLetterStore } from './nats/dlq-store.js';
import { NatsEventSink } from './nats/event-sink.js';
import { NatsInboxFeed } from './nats/inbox-feed.js';
import { JetStreamPublisher } from './nats/js-publisher.js';
import { KvReplayGuard, REPLAY_BUCKET } from './nats/kv-replay-guard.js';
import { KvSessionBackend, SESSIONS_BUCKET } from './nats/kv-session-backend.js';
import { kvStreamName, readDedupeSecret } from './nats/provision.js';
import { type InProcessActors, NatsReadiness } from './nats/readiness.js';
import { NatsSafetyStore } from './nats/safety-store.js';
import type { Logger } from './obs/logger.js';

export interface IngestServer {
  /** Where it listens, e.g. http://127.0.0.1:8080 (the bound port when http.port is 0). */
  readonly url: string;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export interface StartIngestOptions {
  config: ParleyConfig;
  handles: NatsHandles;
  log: Logger;
  registry: Registry;
  stateBucket: string;
  /** The actor worker of this process, for /readyz. */
  actors: () => InProcessActors | undefined;
  /** POST /v1/evaluate and /v1/trigger. */
  rules?: RuleRoutesOptions;
}

function readTls(tls: ParleyConfig['http']['tls']): AppTls | undefined {
  if (!tls) return undefined;
  return {
    key: readFileSync(tls.key),
    cert: readFileSync(tls.cert),
    ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
    clientAuth: tls.clientAuth,
  };
}

export async function startIngest(o: StartIngestOptions): Promise<IngestServer> {
  const { config, handles } = o;
  const watch = new ConnectionWatch(handles.nc);
  const defs = loadDefinitions(config.streams);
  // The configured secret, else the deployment's own (created by provisioning): HTTP Nats-Msg-Ids are keyed
  // with it, so a direct NATS producer cannot pre-empt another tenant's event.
  const dedupeSecret = config.runtime.dedupe.secret ?? (await readDedupeSecret(handles));
  if (!dedupeSecret)
    o.log.warn(
      'no dedupe secret (runtime.dedupe.secret, or parley-deployment dedupe-secret from provisioning): a direct NATS producer can pre-empt HTTP events by guessing their Nats-Msg-Id',
    );
  const app = buildApp({
    config,
    log: o.log,
    registry: o.registry,
    events: new NatsEventSink(handles.js, watch),
    conversations: new NatsConversationReader(handles.js, handles.jsm, await handles.kvm.open(o.stateBucket)),
    replay: new KvReplayGuard(await handles.kvm.open(REPLAY_BUCKET)),
    readiness: new NatsReadiness({
      jsm: handles.jsm,
      watch,
      streams: [
        ...defs.streams.map((s) => s.config.name),
        ...defs.buckets.map((b) => kvStreamName(b.bucket)),
      ],
      partitions: config.partitions,
      actors: o.actors,
    }),
    tls: readTls(config.http.tls),
    safety: await NatsSafetyStore.open(handles, { dedupeSecret }),
    inboxFeed: new NatsInboxFeed(handles, o.log),
    inboxSessions: new KvSessionBackend(await handles.kvm.open(SESSIONS_BUCKET)),
    // A redriven event goes back into EVENTS under a keyed Nats-Msg-Id (src/nats/js-publisher.ts).
    deadLetters: new DeadLetters(
      new NatsDeadLetterStore(handles),
      new JetStreamPublisher(handles.js, undefined, { eventKey: createDedupeKey(dedupeSecret) }),
    ),
    ...(dedupeSecret ? { dedupeSecret } : {}),
    ...(o.rules ? { rules: o.rules } : {}),
  });
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  return { url, app, close: () => app.close() };
}
