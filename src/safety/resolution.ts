/**
 * Operator events applied by the gate, in order with the conversation's other events: `admin.escalation.resolved`
 * (resume: release what was held through every guard; close: stop automation; reply: send the human's
 * message and drop what was held) and `admin.consent.updated` (an operator's DND or opt-in). An event that cannot
 * be applied is recorded in AUDIT, never thrown (it would only be retried and dead-lettered).
 */
import { ValidationError } from '../errors/app-error.js';
import { CONTROL_BUCKET, type HoldRecord, holdKey } from './control.js';
import { ResolutionSchema } from './escalation.js';
import { OPERATOR_RULE } from './escalation-guard.js';
import type { Review } from './gate-review.js';

export function resolveEscalation(r: Review): void {
  const { event, now } = r.input;
  const parsed = ResolutionSchema.safeParse(event.attributes);
  if (!parsed.success) {
    // An operator event that cannot be applied: recorded, never thrown (it would only be retried and dead-lettered).
    const err = new ValidationError(
      'invalid escalation resolution',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
    r.audit('escalation-resolved', { applied: false, error: err.message });
    return;
  }
  const res = parsed.data;
  const open = r.safety.escalation;
  const closed = r.safety.closed;
  const key = holdKey(event.tenant, event.conversation);
  const record = (extra: Record<string, unknown>) =>
    r.audit('escalation-resolved', {
      escalationId: res.escalationId,
      outcome: res.outcome,
      ...(res.by ? { by: res.by } : {}),
      ...extra,
    });

  if (open?.id !== res.escalationId) {
    if (closed?.escalationId === res.escalationId && res.outcome !== 'close') {
      r.set({
        closed: undefined,
        resolved: { id: res.escalationId, outcome: res.outcome, at: now, by: res.by },
      });
      r.store(CONTROL_BUCKET, key, null);
      if (res.outcome === 'reply') reply(r, res.reply!);
      record({ applied: true, reopened: true });
      return;
    }
    record({ applied: false, reason: open ? 'another-escalation-is-open' : 'not-open', open: open?.id });
    return;
  }
  r.set({
    escalation: undefined,
    resolved: { id: res.escalationId, outcome: res.outcome, at: now, by: res.by },
  });
  let released = 0;
  let dropped = 0;
  if (res.outcome === 'resume') {
    const held = r.safety.held ?? [];
    r.set({ held: undefined });
    r.store(CONTROL_BUCKET, key, null);
    for (const h of held) {
      if (now - h.heldAt > r.policy.config.escalation.heldMaxAgeMs) {
        r.dropped(h, 'stale');
        dropped++;
      } else {
        r.decide(h.action, h);
        released++;
      }
    }
  } else if (res.outcome === 'close') {
    dropped = r.dropHeld('escalation-closed');
    r.set({ closed: { escalationId: res.escalationId, at: now } });
    const hold: HoldRecord = {
      escalationId: res.escalationId,
      status: 'closed',
      since: new Date(now).toISOString(),
    };
    r.store(CONTROL_BUCKET, key, { ...hold });
  } else {
    dropped = r.dropHeld('superseded-by-reply');
    const hold: HoldRecord = {
      escalationId: res.escalationId,
      status: 'replied',
      since: new Date(now).toISOString(),
      dropBefore: now,
    };
    r.store(CONTROL_BUCKET, key, { ...hold });
    reply(r, res.reply!);
  }
  record({ applied: true, released, dropped });
}

function reply(r: Review, reply: { text: string; channel?: string; template?: string }): void {
  const e = r.policy.config.escalation;
  r.decide({
    type: 'action',
    channel: reply.channel ?? e.replyChannel,
    rule: OPERATOR_RULE,
    template: reply.template ?? e.replyTemplate,
    variables: { text: reply.text },
  });
}

export function updateConsent(r: Review): void {
  const { event, now } = r.input;
  const a = event.attributes;
  if (typeof a.dnd !== 'boolean') {
    r.audit('consent', { applied: false, error: 'attributes.dnd must be a boolean' });
    return;
  }
  const channel = typeof a.channel === 'string' && a.channel ? a.channel : undefined;
  const prev = r.safety.consent;
  const consent = channel
    ? {
        dnd: prev?.dnd ?? false,
        channels: { ...prev?.channels, [channel]: a.dnd },
        at: now,
        source: 'operator' as const,
      }
    : { dnd: a.dnd, channels: {}, at: now, source: 'operator' as const };
  r.set({ consent });
  r.writeConsent();
  const dropped = r.dropHeldFor(consent);
  r.audit('consent', {
    applied: true,
    dnd: a.dnd,
    ...(channel ? { channel } : {}),
    ...(typeof a.by === 'string' ? { by: a.by } : {}),
    heldDropped: dropped,
  });
}
