/** Moved to src/util/backoff.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../util/backoff.js';
