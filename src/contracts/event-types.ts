/**
 * Event types the engine itself emits into EVENTS, listed once. Producers cannot publish them: every type
 * whose first token is `action`, `detector`, `timer` or `admin` (ENGINE_TYPE_PREFIXES in envelope.ts, which
 * covers every constant below and the operator events admin.escalation.resolved, admin.consent.updated,
 * admin.trigger) is refused at every door: HTTP ingest (400 naming `type`), the Postgres outbox source, and
 * the NATS producer permissions (src/nats/permissions.ts). test/unit/reserved-types.test.ts checks that each
 * type here is reserved.
 */
export { ENGINE_TYPE_PREFIXES, engineTypePrefix, isEngineType } from './envelope.js';

/** A delivered action; published by the connectors only for actions that ask for it (`reportSent`). */
export const ACTION_SENT = 'action.sent';
/** An action that will not be delivered (blocked before send, dead-lettered, ambiguous); always published. */
export const ACTION_FAILED = 'action.failed';
/** A conversation's durable timer came due (src/runtime/timer-wheel.ts). */
export const WAKE_EVENT_TYPE = 'timer.wake';
/** Detector signals (src/rules/profile.ts). */
export const SIGNAL_INACTIVE = 'detector.inactive';
export const SIGNAL_SPEND = 'detector.spend_changed';
export const SIGNAL_CONVERSION_FAILED = 'detector.conversion_failed';
