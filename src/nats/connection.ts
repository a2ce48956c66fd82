/**
 * Connection to NATS. The only place connection options are decided: noAsyncTraces is on because the
 * client otherwise captures a stack trace per request, about half its CPU on the hot path.
 */
import { readFileSync } from 'node:fs';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { ParleyConfig } from '../config/schema.js';

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
  /** Keep reconnecting forever (servers) or fail fast (CLI one-shots). */
  reconnect?: boolean;
}

export function connectOptionsFrom(config: ParleyConfig, url: string): ConnectOptions {
  const { user, pass, token, creds, name } = config.nats;
  return { url, name, user, pass, token, creds };
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
  });
  const js = jetstream(nc, { timeout: 10_000 });
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  return { nc, js, jsm, kvm: new Kvm(js) };
}
