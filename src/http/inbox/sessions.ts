/**
 * Inbox sessions, kept server-side in this process: a random id (the cookie's value, 256 bits), the operator
 * it signed in as, a per-session CSRF token every POST must echo, and an idle expiry (each use extends it up
 * to an absolute limit). The cookie carries nothing but the id; signing out or expiry forgets the session.
 *
 * What must stay true: an unknown, expired or signed-out id resolves to nothing; ids and CSRF tokens are
 * compared in constant time; the store is bounded (the oldest session is dropped past `maxSessions`).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Operator } from '../operators.js';

export interface InboxSession {
  readonly id: string;
  readonly operator: Operator;
  readonly csrf: string;
  readonly createdAt: number;
  expiresAt: number;
}

export interface SessionOptions {
  /** Idle time after which a session expires; default 8 hours. */
  idleMs?: number;
  /** Hard limit from sign-in; default 24 hours. */
  absoluteMs?: number;
  maxSessions?: number;
  now?: () => number;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  readonly #sessions = new Map<string, InboxSession>();
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(o: SessionOptions = {}) {
    this.#idleMs = o.idleMs ?? 8 * 3_600_000;
    this.#absoluteMs = o.absoluteMs ?? 24 * 3_600_000;
    this.#max = o.maxSessions ?? 10_000;
    this.#now = o.now ?? Date.now;
  }

  get idleMs(): number {
    return this.#idleMs;
  }

  create(operator: Operator): InboxSession {
    this.#sweep();
    while (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const now = this.#now();
    const session: InboxSession = {
      id: token(),
      operator,
      csrf: token(),
      createdAt: now,
      expiresAt: now + this.#idleMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session of a cookie value (its idle expiry extended), or undefined. */
  get(id: string | undefined): InboxSession | undefined {
    if (id?.length !== 43) return undefined;
    const s = this.#sessions.get(id);
    if (!s || !sameSecret(s.id, id)) return undefined;
    const now = this.#now();
    if (now >= s.expiresAt || now >= s.createdAt + this.#absoluteMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.expiresAt = Math.min(now + this.#idleMs, s.createdAt + this.#absoluteMs);
    return s;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) if (now >= s.expiresAt) this.#sessions.delete(id);
  }
}
