/**
 * Variable interpolation for action variables: `{{/event/attributes/name}}` reads a JSON Pointer from the
 * evaluation document ({ event, profile, conversation, now, journey, variant, digest }); `{{/profile/name | fan}}`
 * falls back to `fan` when the value is missing. A string that is exactly one placeholder keeps the value's
 * type (a number stays a number); placeholders inside text are stringified. Compiled once per rule.
 */
import { parsePointer, resolvePointer } from './filter.js';

export type Render = (doc: unknown) => unknown;

const PLACEHOLDER = /\{\{\s*([^}|]+?)\s*(?:\|\s*([^}]*?)\s*)?\}\}/g;
const ROOTS = new Set(['event', 'profile', 'conversation', 'now', 'journey', 'variant', 'digest']);

export class TemplateError extends Error {
  override name = 'TemplateError';
}

function parseDefault(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function placeholder(pointer: string, fallback: string | undefined): Render {
  if (!pointer.startsWith('/'))
    throw new TemplateError(
      `"{{${pointer}}}": placeholders are JSON Pointers like {{/event/attributes/name}}`,
    );
  const tokens = parsePointer(pointer);
  if (!ROOTS.has(tokens[0]!))
    throw new TemplateError(
      `"{{${pointer}}}" must start with one of ${[...ROOTS].map((r) => `/${r}`).join(', ')}`,
    );
  const dflt = parseDefault(fallback);
  return (doc) => {
    const v = resolvePointer(doc, tokens);
    return v === undefined || v === null ? dflt : v;
  };
}

function stringify(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function compileString(s: string): Render | undefined {
  const parts: Array<string | Render> = [];
  let last = 0;
  for (const m of s.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(s.slice(last, m.index));
    parts.push(placeholder(m[1]!, m[2]));
    last = m.index + m[0].length;
  }
  if (parts.length === 0) return undefined;
  if (last < s.length) parts.push(s.slice(last));
  if (parts.length === 1 && typeof parts[0] === 'function') return parts[0];
  return (doc) => parts.map((p) => (typeof p === 'string' ? p : stringify(p(doc)))).join('');
}

/**
 * Compiles a variables value (any JSON) into a renderer. Values without placeholders are returned as they
 * are (shared, never copied). Throws TemplateError naming the placeholder at fault.
 */
export function compileTemplate(value: unknown): Render {
  const dynamic = compileValue(value);
  return dynamic ?? (() => value);
}

function compileValue(value: unknown): Render | undefined {
  if (typeof value === 'string') return compileString(value);
  if (Array.isArray(value)) {
    const items = value.map(compileValue);
    if (items.every((i) => i === undefined)) return undefined;
    return (doc) => value.map((v, i) => (items[i] ? items[i](doc) : v));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, v, compileValue(v)] as const);
    if (entries.every(([, , r]) => r === undefined)) return undefined;
    return (doc) => {
      const out: Record<string, unknown> = {};
      for (const [k, v, r] of entries) out[k] = r ? r(doc) : v;
      return out;
    };
  }
  return undefined;
}
