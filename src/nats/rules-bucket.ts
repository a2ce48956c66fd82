/**
 * The rule repository over KV bucket `parley-rules`: `sets.<version>` holds a pushed version's files (JSON,
 * readable with `nats kv get parley-rules sets.<version>`), `current` points at the active version and is
 * updated with compare-and-set. Workers watch `current` to hot-reload.
 */

import type { KV } from '@nats-io/kv';
import { BUCKETS } from '../contracts/names.js';
import { ConfigError } from '../errors/app-error.js';
import type { CurrentPointer, RuleRepository, StoredRuleSet } from '../rules/repository.js';
import { isWrongLastSequence } from './errors.js';

export const RULES_BUCKET = BUCKETS.rules;
const CURRENT = 'current';
const SETS = 'sets.';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parse<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

export class KvRuleRepository implements RuleRepository {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  async current(): Promise<{ pointer: CurrentPointer; revision: number } | undefined> {
    const e = await this.#kv.get(CURRENT);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    return { pointer: parse<CurrentPointer>(e.value), revision: e.revision };
  }

  async get(version: string): Promise<StoredRuleSet | undefined> {
    const e = await this.#kv.get(`${SETS}${version}`);
    if (e?.operation !== 'PUT' || e.length === 0) return undefined;
    return parse<StoredRuleSet>(e.value);
  }

  async versions(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.#kv.keys(`${SETS}>`)) out.push(k.slice(SETS.length));
    return out.sort();
  }

  async store(set: StoredRuleSet): Promise<void> {
    await this.#kv.put(`${SETS}${set.version}`, encoder.encode(JSON.stringify(set)));
  }

  async setCurrent(pointer: CurrentPointer, expectedRevision: number): Promise<void> {
    const data = encoder.encode(JSON.stringify(pointer));
    try {
      if (expectedRevision === 0) await this.#kv.create(CURRENT, data);
      else await this.#kv.update(CURRENT, data, expectedRevision);
    } catch (err) {
      if (isWrongLastSequence(err))
        throw new ConfigError('another rule push landed meanwhile; run the push again', [], err);
      throw err;
    }
  }

  async watchCurrent(onChange: (pointer: CurrentPointer) => void): Promise<{ stop(): void }> {
    const watch = await this.#kv.watch({ key: CURRENT, ignoreDeletes: true });
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT' && e.length > 0) onChange(parse<CurrentPointer>(e.value));
      }
    })();
    return { stop: () => watch.stop() };
  }
}
