/** Moved to src/contracts/effects.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../src/contracts/effects.js';
