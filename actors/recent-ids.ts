/**
 * The per-conversation record of recently applied event ids: the actor-level idempotency check that holds on
 * every path (HTTP or NATS, with or without Nats-Msg-Id) and past the stream's duplicate window.
 *
 * Pure and deterministic: membership and pruning depend only on the ids applied, in order, and on their
 * stream times, so a replay of the same events rebuilds the same record and makes the same calls. The runtime
 * (src/runtime/actor-cell.ts) stores it beside the state and commits both in one compare-and-set.
 *
 * What is kept per id: 8 bytes of SHA-256 over a namespace and the id, and the stream time in seconds. The
 * namespace separates events the engine emits (action outcomes, detector signals, timer wakes, operator
 * events) from producers' events, so no producer id can collide with an engine id; SHA-256 so that a
 * collision cannot be crafted. 12 bytes per id: 1000 ids are 12 KB of state.
 */
import { createHash } from 'node:crypto';
import { isEngineType } from '../src/envelope/envelope.js';

export interface RecentIdsLimits {
  /** How long an applied id is remembered, in ms of stream time. */
  horizonMs: number;
  /** At most this many ids are remembered; the oldest go first. */
  maxIds: number;
}

/** 24 hours and 1000 ids: well past the EVENTS duplicate window (10 minutes) and any producer retry. */
export const DEFAULT_RECENT_IDS_LIMITS: RecentIdsLimits = Object.freeze({
  horizonMs: 24 * 60 * 60 * 1000,
  maxIds: 1000,
});

const DIGEST_BYTES = 8;
const ENTRY_BYTES = DIGEST_BYTES + 4;

/** The key an event is remembered by: 16 hex digits of SHA-256 over its namespace and id. */
export function recentIdKey(event: { id: string; type: string }): string {
  const namespace = isEngineType(event.type) ? 'engine' : 'producer';
  return createHash('sha256')
    .update(namespace)
    .update('\0')
    .update(event.id)
    .digest()
    .subarray(0, DIGEST_BYTES)
    .toString('hex');
}

/** Ids applied to one conversation, oldest first. Mutable: the owning actor is its only user. */
export class RecentIds {
  /** key -> stream time in seconds; insertion order is application order. */
  readonly #seen = new Map<string, number>();

  /** Reads the stored form (absent for a conversation stored before the record existed). */
  static decode(bytes: Uint8Array | undefined): RecentIds {
    const r = new RecentIds();
    if (!bytes) return r;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at + ENTRY_BYTES <= buf.length; at += ENTRY_BYTES) {
      r.#seen.set(buf.toString('hex', at, at + DIGEST_BYTES), buf.readUInt32BE(at + DIGEST_BYTES));
    }
    return r;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Whether `key` was applied no longer than the horizon before `nowMs` (the current event's stream time). */
  has(key: string, nowMs: number, limits: RecentIdsLimits): boolean {
    const at = this.#seen.get(key);
    return at !== undefined && at >= cutoff(nowMs, limits);
  }

  /** Records `key` as applied at `nowMs`, forgetting what is past the horizon and what exceeds `maxIds`. */
  add(key: string, nowMs: number, limits: RecentIdsLimits): void {
    const oldest = cutoff(nowMs, limits);
    for (const [k, at] of this.#seen) {
      if (at >= oldest && this.#seen.size < limits.maxIds) break;
      this.#seen.delete(k);
    }
    if (limits.maxIds > 0) this.#seen.set(key, Math.floor(nowMs / 1000));
  }

  /** The stored form: 12 bytes per id, oldest first; undefined when empty (nothing to store). */
  encode(): Uint8Array | undefined {
    if (this.#seen.size === 0) return undefined;
    const buf = Buffer.allocUnsafe(this.#seen.size * ENTRY_BYTES);
    let at = 0;
    for (const [k, seconds] of this.#seen) {
      buf.write(k, at, DIGEST_BYTES, 'hex');
      buf.writeUInt32BE(seconds, at + DIGEST_BYTES);
      at += ENTRY_BYTES;
    }
    return buf;
  }
}

function cutoff(nowMs: number, limits: RecentIdsLimits): number {
  return Math.floor((nowMs - limits.horizonMs) / 1000);
}
