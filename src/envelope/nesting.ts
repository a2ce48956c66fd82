/**
 * Nesting depth of encoded bytes, measured without decoding them. msgpackr's decoder recurses once per level
 * and overflows the stack at a few thousand levels, so bytes from outside (a direct NATS publish) are measured
 * first, iteratively, and refused when too deep: the decoder never sees them. JSON.parse itself is not
 * recursive in V8, but what walks its result is, so JSON gets the same check.
 *
 * What must stay true: no recursion here, every byte read is bounds-checked, and the answer errs towards
 * "too deep" or "malformed" (both refuse) rather than letting a payload through unmeasured.
 */

export type NestingResult = { ok: true } | { ok: false; reason: 'too-deep' | 'malformed'; detail: string };

const OK: NestingResult = Object.freeze({ ok: true });

function tooDeep(max: number): NestingResult {
  return { ok: false, reason: 'too-deep', detail: `nested deeper than ${max} levels` };
}

function malformed(detail: string): NestingResult {
  return { ok: false, reason: 'malformed', detail };
}

/** Extension types a Parley decoder accepts: msgpackr's `undefined` (0) and the msgpack timestamp (-1). */
const FLAT_EXTENSIONS = new Set([0, -1]);

/**
 * Checks that one msgpack value spans `data` with objects and arrays nested at most `maxDepth` levels (the
 * outermost map is level 1). Extension types other than timestamps and `undefined` are refused: msgpackr
 * decodes some of them (sets, records, structured clones) recursively, and no event needs them.
 */
export function checkMsgpackNesting(data: Uint8Array, maxDepth: number): NestingResult {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = data.byteLength;
  /** Items still to read in each open container, innermost last. */
  const open: number[] = [];
  let pos = 0;
  const need = (n: number): boolean => pos + n <= end;
  for (;;) {
    if (!need(1)) return malformed('msgpack ends inside a value');
    const b = data[pos++]!;
    let items = -1; // >= 0: a container with that many items follows
    let skip = 0; // bytes of payload to skip for a scalar
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) skip = 0;
    else if (b <= 0x8f) items = (b & 0x0f) * 2;
    else if (b <= 0x9f) items = b & 0x0f;
    else if (b <= 0xbf) skip = b & 0x1f;
    else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          if (!need(1)) return malformed('truncated length');
          skip = data[pos]!;
          pos += 1;
          break;
        case 0xc5:
        case 0xda:
          if (!need(2)) return malformed('truncated length');
          skip = view.getUint16(pos);
          pos += 2;
          break;
        case 0xc6:
        case 0xdb:
          if (!need(4)) return malformed('truncated length');
          skip = view.getUint32(pos);
          pos += 4;
          break;
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          let len: number;
          if (b >= 0xd4) len = 1 << (b - 0xd4);
          else {
            const width = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4;
            if (!need(width)) return malformed('truncated length');
            len = width === 1 ? data[pos]! : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
            pos += width;
          }
          if (!need(1)) return malformed('truncated extension');
          const type = view.getInt8(pos);
          pos += 1;
          if (!FLAT_EXTENSIONS.has(type)) return malformed(`msgpack extension type ${type} is not accepted`);
          skip = len;
          break;
        }
        case 0xdc:
          if (!need(2)) return malformed('truncated length');
          items = view.getUint16(pos);
          pos += 2;
          break;
        case 0xdd:
          if (!need(4)) return malformed('truncated length');
          items = view.getUint32(pos);
          pos += 4;
          break;
        case 0xde:
          if (!need(2)) return malformed('truncated length');
          items = view.getUint16(pos) * 2;
          pos += 2;
          break;
        case 0xdf:
          if (!need(4)) return malformed('truncated length');
          items = view.getUint32(pos) * 2;
          pos += 4;
          break;
        default:
          return malformed(`byte 0x${b.toString(16)} at ${pos - 1} is not msgpack`);
      }
    }
    if (items > 0) {
      // Each item takes at least one byte: a count beyond what is left is a lie, refused before looping on it.
      if (items > end - pos) return malformed('container count exceeds the bytes left');
      if (open.length + 1 > maxDepth) return tooDeep(maxDepth);
      open.push(items);
      continue;
    }
    if (!need(skip)) return malformed('msgpack ends inside a value');
    pos += skip;
    // A value is complete: close every container it completes.
    while (open.length > 0) {
      const last = open.length - 1;
      open[last]! -= 1;
      if (open[last]! > 0) break;
      open.pop();
    }
    if (open.length === 0) return pos === end ? OK : malformed(`${end - pos} bytes after the msgpack value`);
  }
}

/**
 * Checks that JSON text nests objects and arrays at most `maxDepth` levels. Only brackets outside strings
 * count; the text is otherwise left for JSON.parse to judge.
 */
export function checkJsonNesting(data: Uint8Array, maxDepth: number): NestingResult {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return tooDeep(maxDepth);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return OK;
}
