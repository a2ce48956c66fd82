/**
 * An independent webhook receiver for the fault harness: HTTP on 127.0.0.1:0, Standard Webhooks signatures
 * verified with the `standardwebhooks` library (not Parley's signer), every request logged with its arrival
 * index and time, deliveries deduped by webhook-id (a repeat is answered 200 and logged as a redelivery),
 * and fault modes switchable at runtime: 1 in N answered 503, 429 with Retry-After, held past the sender's
 * timeout, or reset.
 *
 * The log is the receiver's half of the history: `deliveries()` gives the checker's view of it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Delivery } from './checker.js';

export type FaultMode =
  | { kind: 'none' }
  /** Every `every`-th request is answered `status` (default 503). */
  | { kind: 'fail'; every: number; status?: number }
  /** Every `every`-th request is answered 429 with Retry-After (seconds). */
  | { kind: 'throttle'; every: number; retryAfterSeconds: number }
  /** Every `every`-th request is held for `holdMs` (past the sender's timeout), then its socket destroyed. */
  | { kind: 'hang'; every: number; holdMs: number }
  /** Every `every`-th request has its connection reset before any answer. */
  | { kind: 'reset'; every: number };

export type Outcome = 'accepted' | 'redelivery' | 'refused' | 'throttled' | 'hung' | 'reset' | 'invalid';

export interface ReceivedRequest {
  index: number;
  receivedAt: number;
  webhookId: string;
  signatureValid: boolean;
  outcome: Outcome;
  tenant: string;
  conversation: string;
  eventId: string;
  n: number;
  /** `template` and `rule` of the body (which rule version decided it, when versions differ in template). */
  template: string;
  rule: string;
  /** Why a request was invalid (unparseable body, missing headers). */
  error?: string;
}

export interface ReceiverOptions {
  /** The channel secret, `whsec_<base64>` as configured in Parley. */
  secret: string;
  fault?: FaultMode;
}

export class WebhookReceiver {
  readonly #verifier: Webhook;
  readonly #log: ReceivedRequest[] = [];
  readonly #seen = new Set<string>();
  readonly #sockets = new Set<Socket>();
  readonly #hung = new Set<NodeJS.Timeout>();
  readonly #listeners = new Set<() => void>();
  #server: Server | undefined;
  #fault: FaultMode;
  #counter = 0;
  /** Fault-mode refusals so far (every kind). */
  faultsInjected = 0;
  url = '';

  constructor(options: ReceiverOptions) {
    this.#verifier = new Webhook(options.secret);
    this.#fault = options.fault ?? { kind: 'none' };
  }

  setFault(mode: FaultMode): void {
    this.#fault = mode;
    this.#counter = 0;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(0, '127.0.0.1', () => res());
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/hook`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const t of this.#hung) clearTimeout(t);
    this.#hung.clear();
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((res) => server.close(() => res()));
  }

  /** Every request so far, in arrival order. */
  requests(): readonly ReceivedRequest[] {
    return this.#log;
  }

  /** The checker's view: every request, accepted meaning processed (first or repeat), refused otherwise. */
  deliveries(): Delivery[] {
    return this.#log
      .filter((r) => r.outcome !== 'invalid' || r.webhookId !== '')
      .map((r) => ({
        webhookId: r.webhookId,
        tenant: r.tenant,
        conversation: r.conversation,
        eventId: r.eventId,
        n: r.n,
        receivedAt: r.receivedAt,
        index: r.index,
        signatureValid: r.signatureValid,
        accepted: r.outcome === 'accepted' || r.outcome === 'redelivery',
      }));
  }

  /** Distinct webhook-ids accepted. */
  acceptedCount(): number {
    return this.#seen.size;
  }

  /** Resolves once `predicate()` holds (checked on each request), or rejects after `timeoutMs`. */
  waitFor(what: string, predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((res, rej) => {
      const check = () => {
        if (!predicate()) return;
        this.#listeners.delete(check);
        clearTimeout(timer);
        res();
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        rej(new Error(`receiver: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 4 * 1024 * 1024) chunks.push(c);
    });
    req.on('end', () => this.#received(req, res, Buffer.concat(chunks)));
    req.on('error', () => {});
  }

  #received(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const record: ReceivedRequest = {
      index: this.#log.length,
      receivedAt: Date.now(),
      webhookId: String(req.headers['webhook-id'] ?? ''),
      signatureValid: false,
      outcome: 'invalid',
      tenant: '',
      conversation: '',
      eventId: '',
      n: -1,
      template: '',
      rule: '',
    };
    this.#log.push(record);
    try {
      this.#verifier.verify(body, {
        'webhook-id': record.webhookId,
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      });
      record.signatureValid = true;
    } catch {
      record.signatureValid = false;
    }
    try {
      const parsed = JSON.parse(body.toString('utf8')) as {
        tenant?: unknown;
        conversation?: unknown;
        template?: unknown;
        rule?: unknown;
        event?: { id?: unknown; attributes?: { n?: unknown } };
      };
      record.template = String(parsed.template ?? '');
      record.rule = String(parsed.rule ?? '');
      record.tenant = String(parsed.tenant ?? '');
      record.conversation = String(parsed.conversation ?? '');
      record.eventId = String(parsed.event?.id ?? '');
      record.n = typeof parsed.event?.attributes?.n === 'number' ? parsed.event.attributes.n : -1;
    } catch (err) {
      record.error = `unparseable body: ${String(err)}`;
      res.writeHead(400).end();
      this.#notify();
      return;
    }

    const fault = this.#fault;
    if (fault.kind !== 'none' && !this.#seen.has(record.webhookId)) {
      this.#counter++;
      if (this.#counter % fault.every === 0) {
        this.faultsInjected++;
        this.#inject(fault, record, req, res);
        this.#notify();
        return;
      }
    }
    if (!record.signatureValid) {
      res.writeHead(401).end();
    } else if (this.#seen.has(record.webhookId)) {
      record.outcome = 'redelivery';
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"duplicate":true}');
    } else {
      this.#seen.add(record.webhookId);
      record.outcome = 'accepted';
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"id":"rcv-${record.index}"}`);
    }
    this.#notify();
  }

  #inject(fault: FaultMode, record: ReceivedRequest, req: IncomingMessage, res: ServerResponse): void {
    switch (fault.kind) {
      case 'fail':
        record.outcome = 'refused';
        res.writeHead(fault.status ?? 503).end();
        return;
      case 'throttle':
        record.outcome = 'throttled';
        res.writeHead(429, { 'retry-after': String(fault.retryAfterSeconds) }).end();
        return;
      case 'hang': {
        record.outcome = 'hung';
        const timer = setTimeout(() => {
          this.#hung.delete(timer);
          req.socket.destroy();
        }, fault.holdMs);
        this.#hung.add(timer);
        return;
      }
      case 'reset':
        record.outcome = 'reset';
        req.socket.resetAndDestroy();
        return;
      case 'none':
        return;
    }
  }
}
