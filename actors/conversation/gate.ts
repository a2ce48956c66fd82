/** Moved to src/contracts/conversation/gate.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../../src/contracts/conversation/gate.js';
