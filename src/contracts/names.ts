/**
 * The names of everything Parley provisions on the server: streams, KV buckets and the per-partition
 * durable consumers. The definitions themselves are in `streams/*.json` (test/unit/contracts-names.test.ts
 * fails when the two drift apart).
 */

export const STREAMS = {
  events: 'EVENTS',
  actions: 'ACTIONS',
  audit: 'AUDIT',
  escalations: 'ESCALATIONS',
  dlq: 'DLQ',
} as const;

export const BUCKETS = {
  state: 'parley-state',
  tokens: 'parley-tokens',
  executions: 'parley-executions',
  consent: 'parley-consent',
  control: 'parley-control',
  rules: 'parley-rules',
  timers: 'parley-timers',
  leases: 'parley-leases',
  replay: 'parley-replay',
  inboxSessions: 'parley-inbox-sessions',
  deployment: 'parley-deployment',
} as const;

const pad = (partition: number) => String(partition).padStart(2, '0');

/** The actors' durable pull consumer of a partition on EVENTS (filter `evt.<n>.>`). */
export function actorsConsumerName(partition: number): string {
  return `actors-p${pad(partition)}`;
}

/** The connector stage's durable pull consumer of a partition on ACTIONS (filter `act.<n>.>`). */
export function connectorsConsumerName(partition: number): string {
  return `connectors-p${pad(partition)}`;
}
