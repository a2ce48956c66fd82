/** Moved to src/contracts/conversation/safety-state.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../../src/contracts/conversation/safety-state.js';
