/**
 * Consent / do-not-disturb records (`parley-consent` bucket, key `<tenant>.<conversation>`, JSON), written by
 * the conversation's actor from its own ordered events (an opt-out message, or a `admin.consent.updated` event an
 * operator publishes through `parley consent set`), and read through a watch by the gate and the pre-send gate.
 */

import { z } from 'zod';
import { BUCKETS } from '../contracts/names.js';

export const CONSENT_BUCKET = BUCKETS.consent;
/** An operator's consent change; under `admin.`, which the ingest API refuses from tenants. */
export const CONSENT_EVENT_TYPE = 'admin.consent.updated';

export function consentKey(tenant: string, conversation: string): string {
  return `${tenant}.${conversation}`;
}

export const ConsentRecordSchema = z
  .object({
    tenant: z.string(),
    conversation: z.string(),
    dnd: z.boolean().describe('Do not disturb on every channel'),
    channels: z
      .record(z.string(), z.boolean())
      .default({})
      .describe('Per channel: true = DND on it, false = allowed even when dnd is set'),
    source: z.enum(['opt-out', 'operator']),
    updatedAt: z.string(),
    eventId: z.string().optional(),
  })
  .passthrough();

export type ConsentRecord = z.infer<typeof ConsentRecordSchema>;

/** Whether a consent record (or the actor's own copy) forbids sending on `channel`. */
export function isDnd(record: { dnd?: unknown; channels?: unknown } | undefined, channel: string): boolean {
  if (!record) return false;
  const channels = (record.channels ?? {}) as Record<string, unknown>;
  const own = channels[channel];
  if (typeof own === 'boolean') return own;
  return record.dnd === true;
}
