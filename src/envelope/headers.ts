/**
 * Header names an operator reads in `nats stream view` without decoding a body. Every message Parley
 * writes carries them; readers never need them for correctness (the body is authoritative).
 */
export const HDR_MSG_ID = 'Nats-Msg-Id';
export const HDR_CONTENT_TYPE = 'Content-Type';
export const HDR_TYPE = 'Parley-Type';
export const HDR_TENANT = 'Parley-Tenant';
export const HDR_CONVERSATION = 'Parley-Conversation';
export const HDR_SCHEMA = 'Parley-Schema';
export const HDR_TRACE_ID = 'Parley-Trace-Id';
export const HDR_SOURCE_SEQ = 'Parley-Source-Seq';
export const HDR_ERROR = 'Parley-Error';

export const CONTENT_TYPE_MSGPACK = 'application/msgpack';
export const CONTENT_TYPE_JSON = 'application/json';
