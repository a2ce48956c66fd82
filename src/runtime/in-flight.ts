/**
 * A counting gate for messages delivered but not yet acked (or abandoned). The partition pull loops
 * acquire before routing a message, actors release after acking: memory is bounded by `limit` messages
 * no matter how fast NATS delivers.
 */
export class InFlightGate {
  #count = 0;
  readonly #limit: number;
  #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get count(): number {
    return this.#count;
  }

  /** Resolves when one more message may be taken. */
  acquire(): Promise<void> | undefined {
    if (this.#count < this.#limit) {
      this.#count++;
      return undefined;
    }
    return new Promise((resolve) => {
      this.#waiters.push(() => {
        this.#count++;
        resolve();
      });
    });
  }

  release(n = 1): void {
    this.#count -= n;
    while (this.#count < this.#limit && this.#waiters.length > 0) this.#waiters.shift()!();
  }
}
