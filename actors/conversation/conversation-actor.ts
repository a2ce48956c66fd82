/** Moved to src/rules/conversation-actor.ts; kept for existing importers. */
export * from '../../src/rules/conversation-actor.js';
