/** Moved to src/contracts/conversation/automation.ts (contracts: what crosses a process boundary); kept for existing importers. */
export * from '../../src/contracts/conversation/automation.js';
