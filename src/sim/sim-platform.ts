/**
 * A simulated social platform and webhook receiver: a real HTTP server that tests, the demo and the bench
 * deliver to, and that counts what it accepted. It plays the provider APIs the HTTP channels speak:
 *
 *   POST /v1/accounts/:account/messages        platform DM (Idempotency-Key supported)
 *   GET  /v1/accounts/:account/messages/:id    delivery status; ?idempotency_key=... looks up by key
 *   POST /v1/push/:account/send                push
 *   POST /v1/inbox/:account/messages           in-app inbox
 *   POST any other path                        a webhook receiver (account = last path segment)
 *   GET  /_sim/stats, GET /_sim/sends, POST /_sim/reset, POST|DELETE /_sim/faults   inspection and faults
 *
 * Per-account token-bucket rate limits answer 429 with Retry-After (seconds) and retry-after-ms; a
 * configurable share of requests fails with 503 and every request can be slowed down. A repeated
 * Idempotency-Key, or a repeated webhook-id (as Standard Webhooks receivers dedupe), returns the original
 * answer (counted as a replay, not a send). Every accepted send is
 * recorded; an accepted send whose action ID (webhook-id or idempotency key) was accepted before is a
 * duplicate — the number every delivery guarantee in Parley is measured by.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhook } from '../connectors/channels/webhook.js';
import type { Logger } from '../obs/logger.js';
import { json, type Route, readBody, type SimBucket, sendRoute, takeToken } from './sim-http.js';

export interface SimRate {
  perSecond: number;
  burst: number;
}

export interface SimPlatformOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Default per-account limit (per channel kind and account). */
  perSecond?: number;
  burst?: number;
  /** Per-account overrides, keyed by account. */
  accounts?: Record<string, SimRate>;
  /** Share of sends answered 503 (0-1). */
  failureRate?: number;
  /** Added latency per send, in ms. */
  latencyMs?: number;
  /** Tolerance of the limiter for arrival jitter, in ms of refill. Default 0. */
  rateLeewayMs?: number;
  /** When set, webhooks whose signature does not verify with it are answered 401. */
  webhookSecret?: string;
  random?: () => number;
  log?: Logger;
}

export interface SimSend {
  n: number;
  channel: string;
  account: string;
  /** The action ID the send carried (webhook-id, Idempotency-Key or metadata.action). */
  key: string | undefined;
  deliveryId: string;
  at: number;
  duplicate: boolean;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface SimFault {
  channel?: string;
  account?: string;
  /** Only requests carrying this action ID (webhook-id or Idempotency-Key). */
  key?: string;
  status: number;
  /** Requests to fail; default every one until cleared. */
  count?: number;
  retryAfterMs?: number;
  message?: string;
}

export interface SimCounters {
  requests: number;
  accepted: number;
  duplicates: number;
  replays: number;
  rateLimited: number;
  failed: number;
  rejected: number;
}

export interface SimStats extends SimCounters {
  byChannel: Record<string, SimCounters>;
  byAccount: Record<string, SimCounters>;
}

function zero(): SimCounters {
  return { requests: 0, accepted: 0, duplicates: 0, replays: 0, rateLimited: 0, failed: 0, rejected: 0 };
}

export class SimPlatform {
  readonly #o: Required<Omit<SimPlatformOptions, 'webhookSecret' | 'log' | 'accounts'>> &
    Pick<SimPlatformOptions, 'webhookSecret' | 'log'>;
  readonly #accounts: Record<string, SimRate>;
  #server: Server | undefined;
  #url = '';
  #sends: SimSend[] = [];
  #byKey = new Map<string, SimSend>();
  #buckets = new Map<string, SimBucket>();
  #faults: SimFault[] = [];
  /** Requests per action ID (webhook-id or Idempotency-Key), answered or not. */
  #attempts = new Map<string, number>();
  #totals = zero();
  #byChannel: Record<string, SimCounters> = {};
  #byAccount: Record<string, SimCounters> = {};
  #summary: NodeJS.Timeout | undefined;
  #lastLogged = -1;

  constructor(options: SimPlatformOptions = {}) {
    this.#o = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      perSecond: options.perSecond ?? 100,
      burst: options.burst ?? options.perSecond ?? 100,
      failureRate: options.failureRate ?? 0,
      latencyMs: options.latencyMs ?? 0,
      rateLeewayMs: options.rateLeewayMs ?? 0,
      random: options.random ?? Math.random,
      webhookSecret: options.webhookSecret,
      log: options.log,
    };
    this.#accounts = { ...options.accounts };
  }

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        this.#o.log?.error({ err }, 'sim platform request failed');
        if (!res.headersSent) json(res, 500, { error: 'internal' });
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => resolve());
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    this.#url = `http://${this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host}:${port}`;
    if (this.#o.log) {
      this.#summary = setInterval(() => this.#logSummary(), 5_000);
      this.#summary.unref();
    }
    return this.#url;
  }

  async stop(): Promise<void> {
    clearInterval(this.#summary);
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #logSummary(): void {
    if (this.#totals.requests === this.#lastLogged) return;
    this.#lastLogged = this.#totals.requests;
    const { accepted, duplicates, rateLimited, failed } = this.#totals;
    this.#o.log?.info(
      { accepted, duplicates, rateLimited, failed, byChannel: this.#byChannel },
      'sim platform deliveries',
    );
  }

  stats(): SimStats {
    return structuredClone({ ...this.#totals, byChannel: this.#byChannel, byAccount: this.#byAccount });
  }

  sends(filter: { channel?: string; account?: string } = {}): SimSend[] {
    return this.#sends.filter(
      (s) =>
        (!filter.channel || s.channel === filter.channel) &&
        (!filter.account || s.account === filter.account),
    );
  }

  /** How many requests carried this action ID (webhook-id or Idempotency-Key), whatever the answer. */
  requestCount(key: string): number {
    return this.#attempts.get(key) ?? 0;
  }

  reset(): void {
    this.#attempts.clear();
    this.#sends = [];
    this.#byKey.clear();
    this.#buckets.clear();
    this.#faults = [];
    this.#totals = zero();
    this.#byChannel = {};
    this.#byAccount = {};
  }

  addFault(fault: SimFault): void {
    this.#faults.push({ ...fault });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  setRate(account: string, rate: SimRate): void {
    this.#accounts[account] = rate;
  }

  #count(route: Route, field: keyof SimCounters): void {
    this.#totals[field]++;
    const channel = this.#byChannel[route.channel] ?? zero();
    const account = this.#byAccount[route.account] ?? zero();
    channel[field]++;
    account[field]++;
    this.#byChannel[route.channel] = channel;
    this.#byAccount[route.account] = account;
  }

  /** Token bucket per (channel, account); returns ms to wait when over the limit. */
  #limit(route: Route, now: number): number {
    const rate = this.#accounts[route.account] ?? { perSecond: this.#o.perSecond, burst: this.#o.burst };
    return takeToken(this.#buckets, `${route.channel}:${route.account}`, rate, now, this.#o.rateLeewayMs);
  }

  #fault(route: Route, key: string | undefined): SimFault | undefined {
    const i = this.#faults.findIndex(
      (f) =>
        (!f.channel || f.channel === route.channel) &&
        (!f.account || f.account === route.account) &&
        (!f.key || f.key === key),
    );
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    if (f.count !== undefined) {
      f.count--;
      if (f.count <= 0) this.#faults.splice(i, 1);
    }
    return f;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    if (path.startsWith('/_sim/')) return this.#admin(method, path, url, body, res);
    if (method === 'GET') return this.#status(path, url, res);
    const route = sendRoute(method, path);
    if (!route) return void json(res, 404, { error: 'not found' });
    this.#count(route, 'requests');

    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const idemKey = headers['idempotency-key'];
    const attemptKey = route.channel === 'webhook' ? headers['webhook-id'] : idemKey;
    if (attemptKey) this.#attempts.set(attemptKey, (this.#attempts.get(attemptKey) ?? 0) + 1);
    // A repeated Idempotency-Key, or a repeated webhook-id (Standard Webhooks receivers dedupe on it), is
    // answered as the original was: a replay, never a second effect.
    const dedupeKey = idemKey ?? (route.channel === 'webhook' ? headers['webhook-id'] : undefined);
    const replayKey = dedupeKey ? `${route.channel}:${route.account}:${dedupeKey}` : undefined;
    const original = replayKey ? this.#byKey.get(replayKey) : undefined;
    if (original) {
      this.#count(route, 'replays');
      return void json(
        res,
        200,
        { id: original.deliveryId, status: 'delivered' },
        { 'idempotent-replayed': 'true' },
      );
    }

    const now = Date.now();
    const waitMs = this.#limit(route, now);
    if (waitMs > 0) {
      this.#count(route, 'rateLimited');
      return void json(
        res,
        429,
        { error: 'rate limited', retryAfterMs: waitMs },
        {
          'retry-after': String(Math.ceil(waitMs / 1000)),
          'retry-after-ms': String(waitMs),
        },
      );
    }
    const fault = this.#fault(route, attemptKey);
    if (fault) {
      this.#count(
        route,
        fault.status >= 500 || fault.status === 429
          ? fault.status === 429
            ? 'rateLimited'
            : 'failed'
          : 'rejected',
      );
      const extra: Record<string, string> =
        fault.retryAfterMs === undefined
          ? {}
          : {
              'retry-after': String(Math.ceil(fault.retryAfterMs / 1000)),
              'retry-after-ms': String(fault.retryAfterMs),
            };
      return void json(res, fault.status, { error: fault.message ?? 'injected fault' }, extra);
    }
    if (this.#o.failureRate > 0 && this.#o.random() < this.#o.failureRate) {
      this.#count(route, 'failed');
      return void json(res, 503, { error: 'temporarily unavailable' });
    }
    if (route.channel === 'webhook' && this.#o.webhookSecret) {
      const id = headers['webhook-id'] ?? '';
      const ts = Number(headers['webhook-timestamp']);
      const expected = signWebhook(this.#o.webhookSecret, id, ts, body);
      const given = (headers['webhook-signature'] ?? '').split(' ');
      if (!given.includes(expected)) {
        this.#count(route, 'rejected');
        return void json(res, 401, { error: 'invalid signature' });
      }
    }
    if (this.#o.latencyMs > 0) await new Promise((r) => setTimeout(r, this.#o.latencyMs));

    const key = route.channel === 'webhook' ? headers['webhook-id'] : (idemKey ?? this.#actionOf(body));
    const dupKey = key ? `${route.channel}:${key}` : undefined;
    const duplicate = dupKey !== undefined && this.#byKey.has(dupKey);
    const n = this.#sends.length + 1;
    const send: SimSend = {
      n,
      channel: route.channel,
      account: route.account,
      key,
      deliveryId: `${route.channel === 'webhook' ? 'wh' : 'msg'}_${n}`,
      at: now,
      duplicate,
      path,
      headers,
      body,
    };
    this.#sends.push(send);
    if (dupKey && !duplicate) this.#byKey.set(dupKey, send);
    if (replayKey) this.#byKey.set(replayKey, send);
    this.#count(route, 'accepted');
    if (duplicate) {
      this.#count(route, 'duplicates');
      this.#o.log?.warn({ channel: route.channel, key }, 'sim platform received a duplicate');
    }
    this.#o.log?.debug(
      { channel: route.channel, account: route.account, key },
      'sim platform accepted a send',
    );
    return void json(res, route.channel === 'webhook' ? 200 : 201, {
      id: send.deliveryId,
      status: 'delivered',
    });
  }

  #actionOf(body: string): string | undefined {
    try {
      const parsed = JSON.parse(body) as { metadata?: { action?: unknown }; data?: { action?: unknown } };
      const a = parsed.metadata?.action ?? parsed.data?.action;
      return typeof a === 'string' ? a : undefined;
    } catch {
      return undefined;
    }
  }

  #status(path: string, url: URL, res: ServerResponse): void {
    const m = /^\/v1\/accounts\/([^/]+)\/messages(?:\/([^/]+))?$/.exec(path);
    if (!m) return void json(res, 404, { error: 'not found' });
    const account = decodeURIComponent(m[1]!);
    const byId = m[2] ? decodeURIComponent(m[2]) : undefined;
    const key = url.searchParams.get('idempotency_key');
    const found = byId
      ? this.#sends.find((s) => s.deliveryId === byId && s.account === account)
      : key
        ? this.#byKey.get(`platform-dm:${account}:${key}`)
        : undefined;
    if (!found) return void json(res, 404, { error: 'not found' });
    return void json(res, 200, {
      id: found.deliveryId,
      status: 'delivered',
      at: new Date(found.at).toISOString(),
    });
  }

  #admin(method: string, path: string, url: URL, body: string, res: ServerResponse): void {
    if (method === 'GET' && path === '/_sim/stats') return void json(res, 200, this.stats());
    if (method === 'GET' && path === '/_sim/sends') {
      const channel = url.searchParams.get('channel') ?? undefined;
      const account = url.searchParams.get('account') ?? undefined;
      const limit = Number(url.searchParams.get('limit') ?? 1000);
      const sends = this.sends({ channel, account }).slice(-limit);
      return void json(res, 200, { sends: sends.map(({ headers: _h, ...s }) => s) });
    }
    if (method === 'POST' && path === '/_sim/reset') {
      this.reset();
      return void json(res, 200, { ok: true });
    }
    if (path === '/_sim/faults') {
      if (method === 'DELETE') {
        this.clearFaults();
        return void json(res, 200, { ok: true });
      }
      if (method === 'POST') {
        const fault = JSON.parse(body || '{}') as SimFault;
        if (typeof fault.status !== 'number')
          return void json(res, 400, { error: 'status (number) is required' });
        this.addFault(fault);
        return void json(res, 200, { ok: true });
      }
    }
    return void json(res, 404, { error: 'not found' });
  }
}
