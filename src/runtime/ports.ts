/** Moved to src/contracts/ports.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../contracts/ports.js';
