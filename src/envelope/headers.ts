/** Moved to src/contracts/headers.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../contracts/headers.js';
