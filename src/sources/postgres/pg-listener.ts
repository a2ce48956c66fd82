/**
 * LISTEN on a dedicated `pg` client, reconnected with backoff when the connection drops.
 *
 * Why not pg-listen: what it adds over pg's own `notification` event is exactly this reconnect loop, and
 * one more dependency for ~80 lines is not worth it. What must stay true: a notification only ever wakes
 * the relay (it carries nothing the relay relies on), and every (re)connect wakes it too, because
 * notifications sent while the listener was down are lost; the relay's safety poll covers the rest.
 */
import pg from 'pg';
import { errorMessage } from '../../errors/app-error.js';
import type { Logger } from '../../obs/logger.js';
import { backoffDelay } from '../../util/backoff.js';

export interface PgListenerOptions {
  dsn: string;
  channel: string;
  connectTimeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  log: Logger;
  /** Called on every notification and after every (re)connect. */
  onWake: () => void;
  /** Connection state changes (for the connected gauge and the reconnect counter). */
  onState?: (connected: boolean) => void;
}

export class PgListener {
  readonly #o: PgListenerOptions;
  #client: pg.Client | undefined;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: PgListenerOptions) {
    this.#o = o;
  }

  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const o = this.#o;
    const client = new pg.Client({
      connectionString: o.dsn,
      application_name: 'parley-source-listen',
      connectionTimeoutMillis: o.connectTimeoutMs,
      keepAlive: true,
    });
    this.#client = client;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.#stopped) return;
      o.onState?.(false);
      this.#retry(err ? errorMessage(err) : 'connection ended');
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', () => o.onWake());
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(o.channel)}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    if (this.#attempt > 0) o.log.info({ channel: o.channel }, 'Postgres LISTEN connection restored');
    this.#attempt = 0;
    o.onState?.(true);
    o.onWake();
  }

  #retry(reason: string): void {
    this.#attempt += 1;
    const delayMs = backoffDelay(this.#attempt, this.#o.retryInitialMs, this.#o.retryMaxMs);
    // Once per outage at warn; later attempts at debug (a long outage must not flood the log).
    const level = this.#attempt === 1 ? 'warn' : 'debug';
    this.#o.log[level](
      { reason, attempt: this.#attempt, delayMs },
      'Postgres LISTEN connection lost; reconnecting',
    );
    this.#timer = setTimeout(() => void this.#connect(), delayMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => {});
    }
  }
}
