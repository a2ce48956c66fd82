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
import { isEngineType } from '../src/contracts/envelope.js';

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

/**
 * Ids applied to one conversation, oldest first. Mutable: the owning actor is its only user. The stored form
 * is kept as it grows (a buffer of entries, evicted from the front, appended at the end), so a commit costs
 * no per-id work; the map answers lookups.
 */
export class RecentIds {
  /** key -> stream time in seconds of its latest entry. */
  readonly #seen = new Map<string, number>();
  /** Entries in [#start, #end): 8-byte digest, 4-byte seconds; #buf may have room beyond #end. */
  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;

  /** Reads the stored form (absent for a conversation stored before the record existed). */
  static decode(bytes: Uint8Array | undefined): RecentIds {
    const r = new RecentIds();
    if (!bytes || bytes.byteLength < ENTRY_BYTES) return r;
    const length = bytes.byteLength - (bytes.byteLength % ENTRY_BYTES);
    // A copy: the decoded KV value is not ours to keep alive or to write into.
    r.#buf = Buffer.from(bytes.subarray(0, length));
    r.#end = length;
    for (let at = 0; at < length; at += ENTRY_BYTES) {
      r.#seen.set(r.#buf.toString('hex', at, at + DIGEST_BYTES), r.#buf.readUInt32BE(at + DIGEST_BYTES));
    }
    return r;
  }

  /** Entries held (an id re-applied after it expired may hold two until the older is evicted). */
  get size(): number {
    return (this.#end - this.#start) / ENTRY_BYTES;
  }

  /** Whether `key` was applied no longer than the horizon before `nowMs` (the current event's stream time). */
  has(key: string, nowMs: number, limits: RecentIdsLimits): boolean {
    const at = this.#seen.get(key);
    return at !== undefined && at >= cutoff(nowMs, limits);
  }

  /** Records `key` as applied at `nowMs`, forgetting what is past the horizon and what exceeds `maxIds`. */
  add(key: string, nowMs: number, limits: RecentIdsLimits): void {
    const oldest = cutoff(nowMs, limits);
    while (this.#end > this.#start) {
      const at = this.#buf.readUInt32BE(this.#start + DIGEST_BYTES);
      if (at >= oldest && this.size < limits.maxIds) break;
      const k = this.#buf.toString('hex', this.#start, this.#start + DIGEST_BYTES);
      if (this.#seen.get(k) === at) this.#seen.delete(k); // else a newer entry of the same id remains
      this.#start += ENTRY_BYTES;
    }
    if (limits.maxIds <= 0) return;
    if (this.#end + ENTRY_BYTES > this.#buf.length) this.#grow(limits.maxIds);
    const seconds = Math.floor(nowMs / 1000);
    this.#buf.write(key, this.#end, DIGEST_BYTES, 'hex');
    this.#buf.writeUInt32BE(seconds, this.#end + DIGEST_BYTES);
    this.#end += ENTRY_BYTES;
    this.#seen.set(key, seconds);
  }

  /** Moves the live entries to the front of a buffer with room for at least one more (up to maxIds + 1). */
  #grow(maxIds: number): void {
    const live = this.#end - this.#start;
    const want = Math.min(Math.max(live * 2, 8 * ENTRY_BYTES), (maxIds + 1) * ENTRY_BYTES);
    const next = Buffer.allocUnsafe(Math.max(want, live + ENTRY_BYTES));
    this.#buf.copy(next, 0, this.#start, this.#end);
    this.#buf = next;
    this.#start = 0;
    this.#end = live;
  }

  /** The stored form: 12 bytes per id, oldest first; undefined when empty. A view: store it before the next add. */
  encode(): Uint8Array | undefined {
    if (this.#end === this.#start) return undefined;
    return this.#buf.subarray(this.#start, this.#end);
  }
}

function cutoff(nowMs: number, limits: RecentIdsLimits): number {
  return Math.floor((nowMs - limits.horizonMs) / 1000);
}
