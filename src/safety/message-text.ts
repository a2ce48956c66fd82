/** Where a fan's words are in an event: the first non-empty string among the configured attributes. */
import type { EventEnvelope } from '../contracts/envelope.js';

export function messageText(
  event: Pick<EventEnvelope, 'attributes'>,
  fields: readonly string[],
): string | undefined {
  for (const f of fields) {
    const v = event.attributes[f];
    if (typeof v === 'string' && v.trim().length > 0) return v;
  }
  return undefined;
}
