/**
 * SessionBackend over the `parley-inbox-sessions` KV bucket: every ingest process reads and writes the same
 * sessions, so a sign-in on one is valid on all and a sign-out on one ends it everywhere. Keys are the
 * SHA-256 of the session id (src/http/inbox/sessions.ts); values JSON. Idle extensions are compare-and-set
 * updates on the revision read; sign-out deletes the key. Entries expire with the bucket's max_age (one day,
 * the longest idle time allowed), so an abandoned session leaves nothing behind.
 *
 * A bucket that does not answer is a RetryableError (503): the page cannot tell a signed-in operator from
 * a stranger without it.
 */

import type { KV } from '@nats-io/kv';
import { BUCKETS } from '../contracts/names.js';
import { errorMessage, RetryableError } from '../errors/app-error.js';
import { isSessionRecord, type SessionBackend, type SessionRecord } from '../http/inbox/sessions.js';
import { isWrongLastSequence } from './errors.js';

export const SESSIONS_BUCKET = BUCKETS.inboxSessions;

function unavailable(err: unknown): RetryableError {
  return new RetryableError(`inbox sessions unavailable: ${errorMessage(err)}`, {
    code: 'NATS_UNAVAILABLE',
    cause: err,
  });
}

export class KvSessionBackend implements SessionBackend {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  async get(key: string): Promise<{ record: SessionRecord; revision: number } | undefined> {
    const e = await this.#kv.get(key).catch((err: unknown) => {
      throw unavailable(err);
    });
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    let value: unknown;
    try {
      value = e.json();
    } catch {
      return undefined; // not a session record: as good as none
    }
    return isSessionRecord(value) ? { record: value, revision: e.revision } : undefined;
  }

  async create(key: string, record: SessionRecord): Promise<void> {
    await this.#kv.create(key, JSON.stringify(record)).catch((err: unknown) => {
      // 256 random bits never collide; if they did, this session must not take over the other.
      if (isWrongLastSequence(err)) throw new Error(`inbox session ${key} exists`);
      throw unavailable(err);
    });
  }

  async update(key: string, record: SessionRecord, revision: number): Promise<boolean> {
    try {
      await this.#kv.update(key, JSON.stringify(record), revision);
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw unavailable(err);
    }
  }

  async delete(key: string): Promise<void> {
    await this.#kv.delete(key).catch((err: unknown) => {
      throw unavailable(err);
    });
  }
}
