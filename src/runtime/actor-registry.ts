/**
 * The live actors of one process, across its partitions, in least-recently-used order (a Map re-inserted
 * on every touch). Passivation drops idle actors: their state is already in KV after every batch, so
 * dropping one only costs a KV read when its conversation speaks again. Bounded by maxActors.
 */
import type { TransitionContext } from '../contracts/actor-kind.js';
import type { Clock } from '../contracts/ports.js';
import type { ActorCell } from './actor-cell.js';

export interface ActorRegistryOptions {
  maxActors: number;
  passivateAfterMs: number;
  clock: Clock;
  onPassivated?: (count: number) => void;
}

export class ActorRegistry<S, C extends TransitionContext = TransitionContext> {
  readonly #cells = new Map<string, ActorCell<S, C>>();
  readonly #o: ActorRegistryOptions;

  constructor(options: ActorRegistryOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#cells.size;
  }

  /** Returns the live actor for `key`, creating it with `create` if needed, and marks it most recent. */
  touch(key: string, create: () => ActorCell<S, C>): ActorCell<S, C> {
    let cell = this.#cells.get(key);
    if (cell) {
      this.#cells.delete(key);
    } else {
      if (this.#cells.size >= this.#o.maxActors) this.passivate(this.#cells.size - this.#o.maxActors + 1);
      cell = create();
    }
    this.#cells.set(key, cell);
    return cell;
  }

  get(key: string): ActorCell<S, C> | undefined {
    return this.#cells.get(key);
  }

  /**
   * Drops idle actors, oldest first: all idle past passivateAfterMs, plus at least `atLeast` more if the
   * registry is over its bound. Busy actors are skipped, never dropped.
   */
  passivate(atLeast = 0): number {
    const now = this.#o.clock.now();
    let dropped = 0;
    for (const [key, cell] of this.#cells) {
      const expired = now - cell.lastActive >= this.#o.passivateAfterMs;
      if (!expired && dropped >= atLeast) break;
      if (!cell.idle) continue;
      this.#cells.delete(key);
      dropped++;
    }
    if (dropped > 0) this.#o.onPassivated?.(dropped);
    return dropped;
  }

  /** Kills and forgets every actor of a partition (it was lost or stopped). */
  dropPartition(partition: number): void {
    for (const [key, cell] of this.#cells) {
      if (cell.partition !== partition) continue;
      cell.kill();
      this.#cells.delete(key);
    }
  }

  /** True when no actor of the partition has queued or running work. */
  partitionIdle(partition: number): boolean {
    for (const cell of this.#cells.values()) if (cell.partition === partition && !cell.idle) return false;
    return true;
  }

  mailboxDepth(): number {
    let depth = 0;
    for (const cell of this.#cells.values()) depth += cell.depth;
    return depth;
  }
}
