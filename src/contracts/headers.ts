/**
 * Header names an operator reads in `nats stream view` without decoding a body. Every message Parley
 * writes carries them; readers never need them for correctness (the body is authoritative).
 */
import { SCHEMA_VERSION } from './envelope.js';

export const HDR_MSG_ID = 'Nats-Msg-Id';
export const HDR_CONTENT_TYPE = 'Content-Type';
export const HDR_TYPE = 'Parley-Type';
export const HDR_TENANT = 'Parley-Tenant';
export const HDR_CONVERSATION = 'Parley-Conversation';
export const HDR_SCHEMA = 'Parley-Schema';
export const HDR_TRACE_ID = 'Parley-Trace-Id';
export const HDR_SOURCE_SEQ = 'Parley-Source-Seq';
export const HDR_ERROR = 'Parley-Error';
/**
 * On an action: decided by a redo (its event was redelivered, recovered from an earlier owner, or its
 * publish retried), so a copy may exist outside the duplicate window; the connector checks its execution
 * record before sending (src/connectors/action-executor.ts, "first sight").
 */
export const HDR_RECHECK = 'Parley-Recheck';
/** The action ID on every connector message, readable in `nats stream view`. */
export const HDR_ACTION_ID = 'Parley-Action-Id';
/** On a redriven action: the DLQ sequence it was redriven from. */
export const HDR_REDRIVE = 'Parley-Redrive';

export const CONTENT_TYPE_MSGPACK = 'application/msgpack';
export const CONTENT_TYPE_JSON = 'application/json';

/** Who a message is about: what every message Parley writes says in its headers. */
export interface HeaderSubject {
  tenant: string;
  conversation: string;
  traceId?: string | undefined;
}

/** The standard headers of a msgpack message Parley writes, plus `extra` (e.g. source sequence, action ID). */
export function messageHeaders(
  id: string,
  type: string,
  about: HeaderSubject,
  extra: Record<string, string> = {},
): Record<string, string> {
  const h: Record<string, string> = {
    [HDR_MSG_ID]: id,
    [HDR_CONTENT_TYPE]: CONTENT_TYPE_MSGPACK,
    [HDR_TYPE]: type,
    [HDR_TENANT]: about.tenant,
    [HDR_CONVERSATION]: about.conversation,
    [HDR_SCHEMA]: String(SCHEMA_VERSION),
    ...extra,
  };
  if (about.traceId) h[HDR_TRACE_ID] = about.traceId;
  return h;
}
