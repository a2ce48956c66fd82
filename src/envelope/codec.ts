/**
 * Bytes <-> values. msgpack (msgpackr, plain maps, no record extension so any msgpack reader can decode)
 * is the wire format; JSON is accepted wherever bytes come from outside (chosen by Content-Type, or
 * sniffed from the first byte when there is none).
 *
 * What must stay true: decoding never recurses deeper than `maxDepth` (default MAX_DECODE_DEPTH), so hostile
 * bytes cannot overflow the stack of whoever decodes them; too deep is a ValidationError like any bad body.
 */
import { Packr } from 'msgpackr';
import { CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK } from '../contracts/headers.js';
import { ValidationError } from '../errors/app-error.js';
import { LimitsExceededError } from './attribute-limits.js';
import { checkJsonNesting, checkMsgpackNesting, type NestingResult } from './nesting.js';

/**
 * Deepest nesting of objects and arrays any decode accepts. Far above what Parley writes (events are limited
 * to a few levels of attributes) and far below where the decoder's recursion overflows (a few thousand).
 */
export const MAX_DECODE_DEPTH = 100;

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

function refuse(format: string, result: Exclude<NestingResult, { ok: true }>): never {
  const issues = [{ path: 'body', message: result.detail }];
  if (result.reason === 'too-deep') throw new LimitsExceededError(`${format} body nested too deeply`, issues);
  throw new ValidationError(`body is not valid ${format}`, issues);
}

/** Decodes msgpack; deeper than `maxDepth` (or structurally broken) throws ValidationError before decoding. */
export function decodeMsgpack(data: Uint8Array, maxDepth = MAX_DECODE_DEPTH): unknown {
  const nesting = checkMsgpackNesting(data, maxDepth);
  if (!nesting.ok) refuse('msgpack', nesting);
  return packr.unpack(data);
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function looksLikeJson(data: Uint8Array): boolean {
  for (const byte of data) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b; // { or [
  }
  return false;
}

/**
 * Decodes a body as JSON or msgpack. `contentType` wins when given; otherwise a body starting with `{`/`[`
 * is JSON. Throws ValidationError naming the format that failed.
 */
export function decodeBody(
  data: Uint8Array,
  contentType?: string | null,
  maxDepth = MAX_DECODE_DEPTH,
): unknown {
  const ct = contentType?.toLowerCase() ?? '';
  const json = ct.includes('json') || (!ct.includes('msgpack') && looksLikeJson(data));
  if (data.length === 0) throw new ValidationError('empty body', [{ path: 'body', message: 'no bytes' }]);
  const nesting = json ? checkJsonNesting(data, maxDepth) : checkMsgpackNesting(data, maxDepth);
  if (!nesting.ok) refuse(json ? 'JSON' : 'msgpack', nesting);
  try {
    return json ? JSON.parse(textDecoder.decode(data)) : packr.unpack(data);
  } catch (err) {
    const format = json ? 'JSON' : 'msgpack';
    throw new ValidationError(`body is not valid ${format}`, [
      { path: 'body', message: err instanceof Error ? err.message : String(err) },
    ]);
  }
}

export function contentTypeOf(json: boolean): string {
  return json ? CONTENT_TYPE_JSON : CONTENT_TYPE_MSGPACK;
}
