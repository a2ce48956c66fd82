/**
 * Limits on event attributes (free-form JSON from producers): nesting depth, size, string and key lengths.
 * Each problem is reported with the path of the value at fault, so a 400 can name it exactly
 * (`events.3.attributes.profile.bio`). The same check runs on every path: the HTTP ingest refuses with a
 * 400, the actor dead-letters an event that reached EVENTS another way (a direct NATS publish).
 */
import { ValidationError } from '../errors/app-error.js';

/** Input refused because it is too large or too deep (a kind of ValidationError: dead-lettered, never retried). */
export class LimitsExceededError extends ValidationError {}

export interface AttributeLimits {
  /** Nesting depth of objects and arrays; the attributes object itself is depth 1. */
  maxAttributeDepth: number;
  /** Size of the attributes as JSON, in bytes. */
  maxAttributesBytes: number;
  /** Longest string value, in characters. */
  maxStringLength: number;
  /** Longest object key, in characters. */
  maxKeyLength: number;
}

/** The defaults of `http.limits` in parley.yaml (src/config/schema.ts repeats them in its schema). */
export const DEFAULT_ATTRIBUTE_LIMITS: AttributeLimits = Object.freeze({
  maxAttributeDepth: 8,
  maxAttributesBytes: 32 * 1024,
  maxStringLength: 8192,
  maxKeyLength: 128,
});

export interface LimitIssue {
  /** Path below the attributes object. */
  path: Array<string | number>;
  message: string;
}

/** At most this many issues per event: a pathological payload must not produce a megabyte of errors. */
const MAX_ISSUES = 20;

/**
 * Every problem of `attributes` (at most MAX_ISSUES). `encodedBytes`, the size of the body they were decoded
 * from (msgpack or JSON), lets the size check skip serialising them when they cannot be too large: their JSON
 * is at most 6 times those bytes (a control character: 1 byte of msgpack, `\u0000` in JSON).
 */
export function checkAttributes(
  attributes: Record<string, unknown>,
  limits: AttributeLimits,
  encodedBytes?: number,
): LimitIssue[] {
  const issues: LimitIssue[] = [];
  const walk = (value: unknown, path: Array<string | number>, depth: number): void => {
    if (issues.length >= MAX_ISSUES) return;
    if (typeof value === 'string') {
      if (value.length > limits.maxStringLength) {
        issues.push({ path, message: `string longer than ${limits.maxStringLength} characters` });
      }
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (depth > limits.maxAttributeDepth) {
      issues.push({ path, message: `nested deeper than ${limits.maxAttributeDepth} levels` });
      return;
    }
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, i], depth + 1);
      return;
    }
    for (const [key, v] of Object.entries(value)) {
      if (key.length > limits.maxKeyLength) {
        issues.push({ path: [...path, key], message: `key longer than ${limits.maxKeyLength} characters` });
        continue;
      }
      walk(v, [...path, key], depth + 1);
    }
  };
  walk(attributes, [], 1);
  const surelySmall = encodedBytes !== undefined && encodedBytes * 6 <= limits.maxAttributesBytes;
  if (issues.length === 0 && !surelySmall) {
    const bytes = Buffer.byteLength(JSON.stringify(attributes), 'utf8');
    if (bytes > limits.maxAttributesBytes) {
      issues.push({ path: [], message: `${bytes} bytes as JSON; at most ${limits.maxAttributesBytes}` });
    }
  }
  return issues;
}
