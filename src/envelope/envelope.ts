/** Moved to src/contracts/envelope.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../contracts/envelope.js';
