/**
 * The rule set a running worker decides with, hot-reloaded. At start: the version `current` in the rules
 * bucket if one was pushed, else the rules directory. Then it watches `current`: a new version is fetched,
 * compiled and swapped in between two events (the actor reads `store.current` per event); journeys of every
 * stored version stay available so runs in flight finish on their own version. A version that fails to
 * load is logged and the running one kept: a bad push never stops a worker.
 */
import type { Decider, Evaluation, EvaluationContext } from '../contracts/conversation/decider.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { errorMessage } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import { type CurrentPointer, loadStoredRuleSet, type RuleRepository } from './repository.js';
import { compileRuleSet, loadRuleSet, type RuleSet } from './rule-set.js';

export interface RuleStoreOptions {
  /** The rules directory: used when nothing was pushed (and without a repository). */
  dir: string;
  repo?: RuleRepository;
  log: Logger;
  /** Called after every switch (metrics, tests). */
  onSwitch?: (set: RuleSet, previous: RuleSet) => void;
}

/** A Decider that always decides with the current version (so the actor context needs no change). */
export class RuleStore implements Decider {
  #current: RuleSet;
  readonly #o: RuleStoreOptions;
  #watch: { stop(): void } | undefined;
  #source: 'directory' | 'bucket';
  /** Stored versions whose journeys were already adopted (carried forward from set to set). */
  readonly #adopted = new Set<string>();

  private constructor(options: RuleStoreOptions, initial: RuleSet, source: 'directory' | 'bucket') {
    this.#o = options;
    this.#current = initial;
    this.#source = source;
  }

  get current(): RuleSet {
    return this.#current;
  }

  get source(): 'directory' | 'bucket' {
    return this.#source;
  }

  get version(): string {
    return this.#current.version;
  }

  decide(event: EventEnvelope, state: ConversationState): ActionEffect[] {
    return this.#current.decide(event, state);
  }

  evaluate(event: EventEnvelope, state: ConversationState, ctx: EvaluationContext): Evaluation {
    return this.#current.evaluate(event, state, ctx);
  }

  consumes(type: string): boolean {
    return this.#current.consumes(type);
  }

  static async open(options: RuleStoreOptions): Promise<RuleStore> {
    const { repo, dir, log } = options;
    const pointer = repo ? await repo.current() : undefined;
    let store: RuleStore;
    if (repo && pointer) {
      const set = await loadStoredRuleSet(repo, pointer.pointer.version);
      store = new RuleStore(options, set, 'bucket');
      await store.#adoptStoredVersions();
      log.info(
        { version: set.version, pushedAt: pointer.pointer.pushedAt },
        'rules loaded from the rules bucket (pushed)',
      );
    } else {
      store = new RuleStore(options, loadRuleSet(dir), 'directory');
      log.info({ version: store.current.version, dir }, 'rules loaded from the rules directory');
    }
    return store;
  }

  /** Starts following pushes. */
  async watch(): Promise<void> {
    const repo = this.#o.repo;
    if (!repo || this.#watch) return;
    this.#watch = await repo.watchCurrent((p) => void this.#switchTo(p));
  }

  stop(): void {
    this.#watch?.stop();
    this.#watch = undefined;
  }

  async #switchTo(pointer: CurrentPointer): Promise<void> {
    if (pointer.version === this.#current.version) return;
    const { repo, log } = this.#o;
    try {
      const next = await loadStoredRuleSet(repo!, pointer.version);
      next.adoptArchive(this.#current.archive.values());
      await this.#adoptStoredVersions(next);
      const previous = this.#current;
      this.#current = next;
      this.#source = 'bucket';
      log.info({ version: next.version, previous: previous.version }, 'rules switched to a pushed version');
      this.#o.onSwitch?.(next, previous);
    } catch (err) {
      log.error(
        { version: pointer.version, err: errorMessage(err) },
        'pushed rule set could not be loaded; keeping the running one',
      );
    }
  }

  /** Makes journeys of every stored version available to runs pinned to them. */
  async #adoptStoredVersions(target = this.#current): Promise<void> {
    const repo = this.#o.repo;
    if (!repo) return;
    for (const version of await repo.versions()) {
      if (version === target.version || this.#adopted.has(version)) continue;
      this.#adopted.add(version);
      const stored = await repo.get(version);
      if (!stored) continue;
      try {
        target.adoptArchive(compileRuleSet(stored.files).archive.values());
      } catch (err) {
        this.#o.log.warn(
          { version, err: errorMessage(err) },
          'stored rule set version does not compile; its journeys are unavailable',
        );
      }
    }
  }
}
