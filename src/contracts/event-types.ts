/**
 * Event types the engine itself emits into EVENTS. Producers cannot publish them (the `action`, `detector`,
 * `timer` and `admin` prefixes are refused at every ingest edge: ENGINE_TYPE_PREFIXES in envelope.ts), so an
 * event of one of these types was written by Parley.
 */
export { ENGINE_TYPE_PREFIXES, isEngineType } from './envelope.js';

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
