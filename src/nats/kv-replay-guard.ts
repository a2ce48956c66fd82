/**
 * ReplayGuard over the `parley-replay` KV bucket: a claim is a KV create of `<tenant>.<key>`, which fails when
 * the key exists, so every ingest process sees every other's claims. Keys expire with the bucket's max_age
 * (10 minutes, longer than twice the signature tolerance, so an expired key can only match a request whose
 * timestamp is already refused).
 */

import type { KV } from '@nats-io/kv';
import { BUCKETS } from '../contracts/names.js';
import { errorMessage, RetryableError } from '../errors/app-error.js';
import type { ReplayGuard } from '../http/ports.js';
import { isWrongLastSequence } from './errors.js';

export const REPLAY_BUCKET = BUCKETS.replay;

const EMPTY = new Uint8Array(0);

export class KvReplayGuard implements ReplayGuard {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  async claim(tenant: string, key: string): Promise<boolean> {
    try {
      await this.#kv.create(`${tenant}.${key}`, EMPTY);
      return true;
    } catch (err) {
      if (isWrongLastSequence(err)) return false;
      throw new RetryableError(`replay guard unavailable: ${errorMessage(err)}`, {
        code: 'NATS_UNAVAILABLE',
        cause: err,
      });
    }
  }
}
