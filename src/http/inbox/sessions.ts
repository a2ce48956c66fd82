/**
 * Inbox sessions, kept server-side in shared storage (the `parley-inbox-sessions` KV bucket in production,
 * src/nats/kv-session-backend.ts), so a session signed in on one process is valid on every process behind
 * the same load balancer, and signing out on one ends it on all. A session is a random id (the cookie's
 * value, 256 bits), the digest of the operator token it signed in with, a per-session CSRF token every POST
 * must echo, and an idle expiry (each use extends it, up to an absolute limit from sign-in).
 *
 * What must stay true:
 *   - The cookie carries nothing but the id; storage is keyed by the id's SHA-256, so whoever can only read
 *     the bucket cannot replay a key as a cookie. Whoever can write it (the ingest and admin NATS users)
 *     can mint a session for a token digest it knows, so the bucket is exactly as sensitive as those
 *     credentials, which already publish operator events.
 *   - An unknown, expired or signed-out id resolves to nothing, and so does one whose token is not configured
 *     on this process (removing or rotating an operator's token ends their sessions at once).
 *   - An idle extension never revives a session signed out meanwhile on another process: it is a
 *     compare-and-set on the revision just read. Extensions are written at most once a minute per session.
 *   - CSRF tokens are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Operator } from '../operators.js';

export interface InboxSession {
  readonly id: string;
  readonly operator: Operator;
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** What storage holds per session (no operator: it is looked up from the token digest on every use). */
export interface SessionRecord {
  /** SHA-256 (hex) of the operator token used to sign in. */
  token: string;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** Shared session storage: a key-value store with revisions (a KV bucket, or a Map in tests). */
export interface SessionBackend {
  get(key: string): Promise<{ record: SessionRecord; revision: number } | undefined>;
  create(key: string, record: SessionRecord): Promise<void>;
  /** Compare-and-set: false when the key changed or went away since `revision`. */
  update(key: string, record: SessionRecord, revision: number): Promise<boolean>;
  delete(key: string): Promise<void>;
}

export interface SessionOptions {
  /** The operator a token digest (hex) names, under the current configuration; undefined when none. */
  operatorOf: (tokenDigest: string) => Operator | undefined;
  /** Idle time after which a session expires; default 8 hours. */
  idleMs?: number;
  /** Hard limit from sign-in; default 24 hours. */
  absoluteMs?: number;
  now?: () => number;
}

/** Idle extensions closer together than this are not written (the expiry moves by at most this much less). */
const EXTEND_EVERY_MS = 60_000;

function token(): string {
  return randomBytes(32).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The storage key of a session id: its SHA-256, base64url (a valid KV key). */
export function sessionKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function isSessionRecord(v: unknown): v is SessionRecord {
  const r = v as Partial<SessionRecord> | null;
  return (
    !!r &&
    typeof r.token === 'string' &&
    typeof r.csrf === 'string' &&
    typeof r.createdAt === 'number' &&
    typeof r.expiresAt === 'number'
  );
}

export class SessionStore {
  readonly #backend: SessionBackend;
  readonly #operatorOf: (tokenDigest: string) => Operator | undefined;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #now: () => number;

  constructor(backend: SessionBackend, o: SessionOptions) {
    this.#backend = backend;
    this.#operatorOf = o.operatorOf;
    this.#idleMs = o.idleMs ?? 8 * 3_600_000;
    this.#absoluteMs = o.absoluteMs ?? 24 * 3_600_000;
    this.#now = o.now ?? Date.now;
  }

  get idleMs(): number {
    return this.#idleMs;
  }

  /** How long a session lives at most, however busy (the cookie's Max-Age). */
  get absoluteMs(): number {
    return this.#absoluteMs;
  }

  /** A new session for the operator a token digest names (the caller has verified the token). */
  async create(tokenDigest: string): Promise<InboxSession> {
    const operator = this.#operatorOf(tokenDigest);
    if (!operator) throw new Error('no operator for this token');
    const now = this.#now();
    const id = token();
    const record: SessionRecord = {
      token: tokenDigest,
      csrf: token(),
      createdAt: now,
      expiresAt: Math.min(now + this.#idleMs, now + this.#absoluteMs),
    };
    await this.#backend.create(sessionKey(id), record);
    return { id, operator, csrf: record.csrf, createdAt: now, expiresAt: record.expiresAt };
  }

  /**
   * The live session of a cookie value, or undefined. Its idle expiry is extended unless `extend` is false
   * (a page's open event stream checks without counting as use, so an idle tab still expires).
   */
  async get(id: string | undefined, o: { extend?: boolean } = {}): Promise<InboxSession | undefined> {
    if (id?.length !== 43) return undefined;
    const key = sessionKey(id);
    const found = await this.#backend.get(key);
    if (!found) return undefined;
    if (this.#expired(found.record)) {
      await this.#backend.delete(key);
      return undefined;
    }
    // Not deleted when only the operator is unknown here: during a rolling configuration change another
    // process may know a token this one does not yet.
    const session = this.#live(id, found.record);
    if (!session) return undefined;
    const extended = Math.min(this.#now() + this.#idleMs, session.createdAt + this.#absoluteMs);
    if (o.extend === false || extended - session.expiresAt < EXTEND_EVERY_MS) return session;
    if (await this.#backend.update(key, { ...found.record, expiresAt: extended }, found.revision))
      return { ...session, expiresAt: extended };
    // Signed out, or extended, on another process since the read: the session as it now stands decides.
    const again = await this.#backend.get(key);
    return again ? this.#live(id, again.record) : undefined;
  }

  async delete(id: string): Promise<void> {
    await this.#backend.delete(sessionKey(id));
  }

  #expired(record: SessionRecord): boolean {
    const now = this.#now();
    return now >= record.expiresAt || now >= record.createdAt + this.#absoluteMs;
  }

  /** The session a record describes, unless it expired or its token names no operator any more. */
  #live(id: string, record: SessionRecord): InboxSession | undefined {
    if (this.#expired(record)) return undefined;
    const operator = this.#operatorOf(record.token);
    if (!operator) return undefined;
    return { id, operator, csrf: record.csrf, createdAt: record.createdAt, expiresAt: record.expiresAt };
  }
}

/** Sessions in this process only: for tests and for an app built without shared storage. */
export class MemorySessionBackend implements SessionBackend {
  readonly #entries = new Map<string, { record: SessionRecord; revision: number }>();
  #revision = 0;

  async get(key: string) {
    const e = this.#entries.get(key);
    return e ? { record: { ...e.record }, revision: e.revision } : undefined;
  }

  async create(key: string, record: SessionRecord) {
    if (this.#entries.has(key)) throw new Error(`session ${key} exists`);
    this.#entries.set(key, { record: { ...record }, revision: ++this.#revision });
  }

  async update(key: string, record: SessionRecord, revision: number) {
    const e = this.#entries.get(key);
    if (e?.revision !== revision) return false;
    this.#entries.set(key, { record: { ...record }, revision: ++this.#revision });
    return true;
  }

  async delete(key: string) {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
