/**
 * In-process implementations of the runtime's ports for pure unit tests (no network, no real timers).
 * Integration tests never use these: they run against a real nats-server.
 */
import { FencedError } from '../../src/errors/app-error.js';
import type {
  Clock,
  InboundMessage,
  OutboundMessage,
  Publisher,
  PublishResult,
  Versioned,
  VersionedStore,
} from '../../src/runtime/ports.js';

/** A clock that moves only when told to; sleepers wake in due order. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Array<{ at: number; wake: () => void }> = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#sleepers.push({ at: this.#now + ms, wake: resolve }));
  }

  get sleepers(): number {
    return this.#sleepers.length;
  }

  /** Moves time forward, waking sleepers whose time has come (letting their continuations run). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > target) break;
      this.#sleepers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.wake();
      await flush();
    }
    this.#now = target;
    await flush();
  }
}

/** Lets pending promise continuations run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class MemoryStore<T> implements VersionedStore<T> {
  readonly data = new Map<string, { value: T; revision: number }>();
  #seq = 0;
  /** Makes the next `n` saves fail with a transient error, before writing. */
  failNext = 0;
  /** Makes the next `n` saves write and then fail as if the reply was lost (an ambiguous write). */
  failAfterWrite = 0;

  async load(key: string): Promise<Versioned<T>> {
    const e = this.data.get(key);
    return e ? { value: structuredClone(e.value), revision: e.revision } : { value: undefined, revision: 0 };
  }

  async save(key: string, value: T, revision: number): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('simulated timeout');
    }
    const current = this.data.get(key)?.revision ?? 0;
    if (current !== revision) throw new FencedError(`${key}: expected ${revision}, found ${current}`);
    const next = ++this.#seq;
    this.data.set(key, { value: structuredClone(value), revision: next });
    if (this.failAfterWrite > 0) {
      this.failAfterWrite--;
      throw new Error('simulated timeout after the write landed');
    }
    return next;
  }

  /** Writes behind the owner's back (another process). */
  foreignWrite(key: string, value: T): void {
    this.data.set(key, { value, revision: ++this.#seq });
  }
}

export class MemoryPublisher implements Publisher {
  readonly messages: OutboundMessage[] = [];
  readonly #ids = new Set<string>();
  failNext = 0;

  async publish(m: OutboundMessage): Promise<PublishResult> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('simulated publish timeout');
    }
    if (this.#ids.has(m.msgId)) return { seq: 0, duplicate: true };
    this.#ids.add(m.msgId);
    this.messages.push(m);
    return { seq: this.messages.length, duplicate: false };
  }
}

export class FakeMessage implements InboundMessage {
  acked = 0;
  naked = 0;
  worked = 0;
  deliveryCount = 1;
  recovered = false;
  readonly #headers: Record<string, string>;

  constructor(
    readonly seq: number,
    readonly subject: string,
    readonly data: Uint8Array,
    headers: Record<string, string> = {},
    readonly timestampMs = Date.UTC(2026, 0, 1),
  ) {
    this.#headers = headers;
  }

  header(name: string): string | undefined {
    return this.#headers[name];
  }

  ack(): void {
    this.acked++;
  }

  nak(): void {
    this.naked++;
  }

  working(): void {
    this.worked++;
  }
}
