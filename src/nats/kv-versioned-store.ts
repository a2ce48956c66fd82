/**
 * VersionedStore over a JetStream KV bucket: values msgpack-encoded, writes by revision compare-and-set
 * (create when the revision is 0, update otherwise). A lost CAS surfaces as FencedError; everything
 * else (timeouts, no responders) is left as is for the caller's retry policy.
 * On nats-server < 2.9.21 CAS is only safe on single-replica buckets: keep these buckets at R1 there.
 */
import type { KV } from '@nats-io/kv';
import type { Versioned, VersionedStore } from '../contracts/ports.js';
import { decodeMsgpack, encode } from '../envelope/codec.js';
import { FencedError } from '../errors/app-error.js';
import { isWrongLastSequence } from './errors.js';

export class KvVersionedStore<T> implements VersionedStore<T> {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  async load(key: string): Promise<Versioned<T>> {
    const entry = await this.#kv.get(key);
    if (!entry) return { value: undefined, revision: 0 };
    if (entry.operation !== 'PUT' || entry.length === 0)
      return { value: undefined, revision: entry.revision };
    return { value: decodeMsgpack(entry.value) as T, revision: entry.revision };
  }

  async save(key: string, value: T, revision: number): Promise<number> {
    const data = encode(value);
    try {
      return revision === 0 ? await this.#kv.create(key, data) : await this.#kv.update(key, data, revision);
    } catch (err) {
      if (isWrongLastSequence(err))
        throw new FencedError(`${key}: revision ${revision} is no longer current`, err);
      throw err;
    }
  }
}
