/**
 * What the inbox's live updates need from the outside world: a feed of escalation changes (a new or raised
 * escalation from ESCALATIONS, a resolution the conversation's actor applied from AUDIT). The NATS
 * implementation is src/nats/inbox-feed.ts; tests of the app may pass an in-process fake.
 */

export type InboxChange =
  | { kind: 'escalation'; escalationId: string; tenant: string; reason: string; priority: string }
  | { kind: 'resolved'; escalationId: string; tenant: string; outcome?: string };

export interface InboxFeed {
  /** Calls `listener` for every change from now on; the returned function unsubscribes. */
  subscribe(listener: (change: InboxChange) => void): () => void;
  /** Resolves once changes flow (true), or false when live updates are unavailable. */
  ready(): Promise<boolean>;
}
