/**
 * Bytes <-> values. msgpack (msgpackr, plain maps, no record extension so any msgpack reader can decode)
 * is the wire format; JSON is accepted wherever bytes come from outside (chosen by Content-Type, or
 * sniffed from the first byte when there is none).
 */
import { Packr } from 'msgpackr';
import { ValidationError } from '../errors/app-error.js';
import { CONTENT_TYPE_JSON, CONTENT_TYPE_MSGPACK } from './headers.js';

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decodeMsgpack(data: Uint8Array): unknown {
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
export function decodeBody(data: Uint8Array, contentType?: string | null): unknown {
  const ct = contentType?.toLowerCase() ?? '';
  const json = ct.includes('json') || (!ct.includes('msgpack') && looksLikeJson(data));
  if (data.length === 0) throw new ValidationError('empty body', [{ path: 'body', message: 'no bytes' }]);
  try {
    return json ? JSON.parse(textDecoder.decode(data)) : decodeMsgpack(data);
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
