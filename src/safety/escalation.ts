/**
 * Escalations: what opens one (a classifier verdict read against the confidence threshold), its priority,
 * the next step suggested to the reviewer, and the resolution event an operator publishes into EVENTS so that
 * it reaches the conversation's actor in order with everything else.
 */
import { z } from 'zod';
import type { EscalationPriority } from '../contracts/conversation/safety-state.js';
import type { ClassifierVerdict } from './verdict.js';

/** Operator events live under `admin.`, a prefix the ingest API refuses from tenants. */
export const ESCALATION_RESOLVED_EVENT = 'admin.escalation.resolved';

export const RESOLUTION_OUTCOMES = ['resume', 'close', 'reply'] as const;
export type ResolutionOutcome = (typeof RESOLUTION_OUTCOMES)[number];

/** Attributes of an `admin.escalation.resolved` event. */
export const ResolutionSchema = z
  .object({
    escalationId: z
      .string()
      .min(1)
      .describe('<tenant>.<conversation>.<seq>, as listed by parley escalations list'),
    outcome: z
      .enum(RESOLUTION_OUTCOMES)
      .describe(
        'resume: release held actions and automate again; close: stop automation; reply: send a human reply',
      ),
    by: z.string().max(200).optional().describe('Who resolved it (recorded in AUDIT)'),
    note: z.string().max(2000).optional().describe('Why (recorded in AUDIT)'),
    reply: z
      .object({
        text: z.string().min(1).max(4000).describe('The human-written message'),
        channel: z
          .string()
          .optional()
          .describe('Channel to send it on; default safety.escalation.replyChannel'),
        template: z.string().optional().describe('Template; default safety.escalation.replyTemplate'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.outcome === 'reply' && !r.reply)
      ctx.addIssue({ code: 'custom', path: ['reply'], message: 'outcome reply needs reply.text' });
  });

export type Resolution = z.infer<typeof ResolutionSchema>;

export function escalationId(tenant: string, conversation: string, seq: number): string {
  return `${tenant}.${conversation}.${seq}`;
}

/** Splits an escalation ID into its conversation and sequence; undefined if it is not one. */
export function parseEscalationId(
  id: string,
): { tenant: string; conversation: string; seq: number } | undefined {
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.(\d+)$/.exec(id);
  return m ? { tenant: m[1]!, conversation: m[2]!, seq: Number(m[3]) } : undefined;
}

export interface EscalationTrigger {
  reason: string;
  priority: EscalationPriority;
  verdict?: ClassifierVerdict;
}

export const PRIORITY_RANK: Record<EscalationPriority, number> = { low: 0, normal: 1, high: 2, urgent: 3 };

/**
 * Escalation (if any) a verdict calls for. Crisis and abuse always escalate; any other label below the
 * threshold escalates as `low-confidence`; a confident revenue objection escalates unless bridged (the
 * caller decides); a confident opt-out is handled by DND, not escalation.
 */
export function triggerFor(v: ClassifierVerdict, minConfidence: number): EscalationTrigger | undefined {
  const sure = v.confidence >= minConfidence;
  switch (v.label) {
    case 'none':
      // "Nothing here", said without conviction (a model unsure of itself), is not a reason to carry on.
      return sure ? undefined : { reason: 'low-confidence', priority: 'normal', verdict: v };
    case 'crisis':
      return { reason: 'crisis', priority: sure ? 'urgent' : 'high', verdict: v };
    case 'abuse':
      return { reason: 'abuse', priority: sure ? 'high' : 'normal', verdict: v };
    case 'revenue-objection':
      return { reason: sure ? 'revenue-objection' : 'low-confidence', priority: 'normal', verdict: v };
    case 'opt-out':
      return sure ? undefined : { reason: 'low-confidence', priority: 'normal', verdict: v };
    default:
      return { reason: 'low-confidence', priority: 'normal', verdict: v };
  }
}

/**
 * Escalation an advisory verdict (the offline second opinion) calls for: its label, one step less urgent
 * than the lexicon's, since it is a statistical guess; `none` calls for nothing (it lowers nothing), and an
 * opt-out it suspects goes to a human instead of DND.
 */
export function advisoryTrigger(v: ClassifierVerdict): EscalationTrigger | undefined {
  switch (v.label) {
    case 'none':
      return undefined;
    case 'crisis':
      return { reason: 'crisis', priority: 'high', verdict: v };
    case 'abuse':
      return { reason: 'abuse', priority: 'normal', verdict: v };
    case 'revenue-objection':
      return { reason: 'revenue-objection', priority: 'normal', verdict: v };
    default:
      return { reason: 'low-confidence', priority: 'normal', verdict: v };
  }
}

export const SUGGESTED_NEXT: Record<string, string> = {
  crisis:
    'Reach out personally and share crisis resources (a local helpline); keep automation stopped until the fan is safe, then resume or close.',
  abuse:
    'Review the messages; close to stop automation (and consider blocking the fan), or resume if it was banter.',
  'revenue-objection':
    'Answer the refund, price or cancellation concern yourself (reply), or resume to let automation continue.',
  'low-confidence': 'Read the message: reply, resume if automation is appropriate, or close.',
  'classifier-unavailable':
    'The model classifier gave no answer in time; read the message and resume, reply or close.',
};
