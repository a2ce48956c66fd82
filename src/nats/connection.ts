/**
 * Connection to NATS. The only place connection options are decided: noAsyncTraces is on because the
 * client otherwise captures a stack trace per request, about half its CPU on the hot path.
 * Credentials: user/password, token, nkey seed or .creds file from config, and TLS; without nats.url the
 * embedded server's generated `admin` password. Replies use the inbox prefix nats.conf grants the user
 * (`_INBOX.<user>`), so a least-privilege role user can receive its JetStream responses.
 */
import { readFileSync } from 'node:fs';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  type TlsOptions,
} from '@nats-io/transport-node';
import type { ParleyConfig } from '../config/schema.js';
import './request-patch.js';
import type { Logger } from '../obs/logger.js';
import { loadEmbeddedCredentials } from './embedded-credentials.js';
import { inboxPrefixFor } from './permissions.js';

export interface NatsHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kvm: Kvm;
}

export interface ConnectOptions {
  url: string;
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  /** Path to an NKey seed file. */
  nkey?: string;
  /** TLS files; an empty object requires TLS with the system CAs. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Reply subject prefix; default `_INBOX.<user>` with a user, else the client's `_INBOX`. */
  inboxPrefix?: string;
  /**
   * Where the server's asynchronous errors go (a permissions violation is only reported this way), and
   * disconnects and reconnects. Without it they are not logged.
   */
  log?: Logger;
  /** Keep reconnecting forever (servers) or fail fast (CLI one-shots). */
  reconnect?: boolean;
}

export function connectOptionsFrom(config: ParleyConfig, url: string): ConnectOptions {
  const { user, pass, token, creds, nkey, tls, inboxPrefix, name } = config.nats;
  const explicit = user || token || creds || nkey;
  if (!config.nats.url && !explicit && config.nats.embedded.auth) {
    // The embedded server: connect as its generated admin user (this process may run every role).
    const generated = loadEmbeddedCredentials(config.dataDir, Object.keys(config.tenants));
    return {
      url,
      name,
      user: 'admin',
      pass: generated.roles.admin,
      inboxPrefix: inboxPrefix ?? inboxPrefixFor('admin'),
    };
  }
  return { url, name, user, pass, token, creds, nkey, tls, inboxPrefix };
}

function tlsOptions(tls: ConnectOptions['tls']): TlsOptions | undefined {
  if (!tls) return undefined;
  return {
    ...(tls.ca ? { caFile: tls.ca } : {}),
    ...(tls.cert ? { certFile: tls.cert } : {}),
    ...(tls.key ? { keyFile: tls.key } : {}),
  };
}

export async function connectNats(options: ConnectOptions): Promise<NatsHandles> {
  const nc = await connect({
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name ?? 'parley',
    noAsyncTraces: true,
    maxReconnectAttempts: options.reconnect === false ? 0 : -1,
    reconnectTimeWait: 250,
    ...(options.user ? { user: options.user, pass: options.pass } : {}),
    ...(options.token ? { token: options.token } : {}),
    ...(options.creds ? { authenticator: credsAuthenticator(readFileSync(options.creds)) } : {}),
    ...(options.nkey
      ? {
          authenticator: nkeyAuthenticator(
            new TextEncoder().encode(readFileSync(options.nkey, 'utf8').trim()),
          ),
        }
      : {}),
    ...(options.tls ? { tls: tlsOptions(options.tls) } : {}),
    ...(options.inboxPrefix || options.user
      ? { inboxPrefix: options.inboxPrefix ?? inboxPrefixFor(options.user!) }
      : {}),
  });
  if (options.log) void logStatus(nc, options.log);
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  return { nc, js, jsm, kvm: new Kvm(js) };
}

async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'error') {
      // e.g. "Permissions Violation for Publish to ...": a missing grant in nats.conf for this role's user.
      log.error({ err: s.error, server: nc.getServer() }, 'NATS reported an error');
    } else if (s.type === 'disconnect' || s.type === 'reconnect') {
      log.warn({ server: s.server }, `NATS ${s.type}`);
    }
  }
}
