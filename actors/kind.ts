/** Moved to src/contracts/actor-kind.ts; kept for existing importers. */
export * from '../src/contracts/actor-kind.js';
