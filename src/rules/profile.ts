/**
 * Profile and detectors, computed by the conversation actor from its own events (pure): derived counters
 * (total spend, messages in/out, last inbound/outbound/purchase time), attributes from `profile.updated`,
 * and the detector signals emitted back into EVENTS: inactivity (a durable timer reset by inbound messages),
 * spend change (every purchase; milestones crossed), failed conversion attempts (N within a window).
 */
import type { AutomationState, Profile, Timer } from '../contracts/conversation/automation.js';
import type { EmitEffect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import {
  ACTION_FAILED,
  SIGNAL_CONVERSION_FAILED,
  SIGNAL_INACTIVE,
  SIGNAL_SPEND,
} from '../contracts/event-types.js';
import { resolvePointer } from './filter.js';
import type { CompiledDetectors } from './rule-set.js';

export const PROFILE_UPDATED = 'profile.updated';
export const INBOUND_TYPES: ReadonlySet<string> = new Set(['message.received']);
/**
 * Outbound messages sent outside Parley. Parley's own sends are counted by the conversation actor when it
 * approves them (actors/conversation/conversation-actor.ts); a failed one is taken back on `action.failed`.
 */
export const OUTBOUND_TYPES: ReadonlySet<string> = new Set(['message.sent']);

export const DEFAULT_PURCHASE_TYPES: ReadonlySet<string> = new Set(['purchase.completed']);
const DEFAULT_AMOUNT = ['event', 'attributes', 'amount'];

export { SIGNAL_CONVERSION_FAILED, SIGNAL_INACTIVE, SIGNAL_SPEND } from '../contracts/event-types.js';

/** Counters the engine owns; `profile.updated` cannot set them. */
export const DERIVED = new Set([
  'totalSpend',
  'purchases',
  'messagesIn',
  'messagesOut',
  'lastInboundAt',
  'lastOutboundAt',
  'lastPurchaseAt',
  'failedConversions',
]);

export function insertTimer(timers: readonly Timer[] | undefined, timer: Timer): Timer[] {
  const out = [...(timers ?? []), timer];
  out.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

function amountOf(event: EventEnvelope, pointer: readonly string[]): number | undefined {
  const raw = resolvePointer({ event }, pointer);
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

export interface ProfileStep {
  profile: Profile | undefined;
  auto: AutomationState;
  emits: EmitEffect[];
}

/**
 * Applies one event to the profile and the detectors. `auto` is a private shallow copy the caller owns;
 * `newTimerId` yields ids unique to this transition.
 */
export function applyProfileAndDetectors(
  d: CompiledDetectors,
  event: EventEnvelope,
  profile: Profile | undefined,
  auto: AutomationState,
  now: number,
  newTimerId: () => string,
): ProfileStep {
  let p = profile;
  const emits: EmitEffect[] = [];
  const edit = (): Profile => {
    if (p === profile) p = { ...(profile ?? {}) };
    return p!;
  };
  const type = event.type;

  if (type === PROFILE_UPDATED) {
    for (const [k, v] of Object.entries(event.attributes)) {
      if (DERIVED.has(k)) continue;
      const e = edit();
      if (v === null) delete e[k];
      else e[k] = v;
    }
  }
  const inbound = INBOUND_TYPES.has(type);
  if (inbound) {
    const e = edit();
    e.messagesIn = (e.messagesIn ?? 0) + 1;
    e.lastInboundAt = event.occurredAt;
  }
  if (OUTBOUND_TYPES.has(type)) {
    const e = edit();
    e.messagesOut = (e.messagesOut ?? 0) + 1;
    e.lastOutboundAt = event.occurredAt;
  }
  if (type === ACTION_FAILED && (p?.messagesOut ?? 0) > 0) {
    const e = edit();
    e.messagesOut = (e.messagesOut as number) - 1;
  }

  // Inactivity: each detector's timer restarts on its reset events.
  for (const det of d.inactivity) {
    if (!det.resetOn.has(type)) continue;
    const kept = (auto.timers ?? []).filter((t) => !(t.kind === 'inactivity' && t.detector === det.id));
    auto.timers = insertTimer(kept, {
      id: newTimerId(),
      at: now + det.afterMs,
      kind: 'inactivity',
      detector: det.id,
    });
  }

  // Spend.
  const purchaseTypes = d.spend?.on ?? DEFAULT_PURCHASE_TYPES;
  if (purchaseTypes.has(type)) {
    const amount = amountOf(event, d.spend?.amount ?? DEFAULT_AMOUNT);
    if (amount !== undefined) {
      const e = edit();
      const previous = e.totalSpend ?? 0;
      const total = previous + amount;
      e.totalSpend = total;
      e.purchases = (e.purchases ?? 0) + 1;
      e.lastPurchaseAt = event.occurredAt;
      if (d.spend) {
        const crossed = d.spend.milestones.filter((m) => previous < m && total >= m);
        emits.push({
          type: 'emit',
          eventType: SIGNAL_SPEND,
          attributes: {
            previous,
            total,
            delta: amount,
            milestones: crossed,
            ...(crossed.length > 0 ? { milestone: crossed[crossed.length - 1] } : {}),
          },
        });
      }
    }
  }

  // Failed conversion attempts.
  const f = d.failed;
  if (f?.on.has(type)) {
    edit().failedConversions = (p!.failedConversions ?? 0) + 1;
    const recent = (auto.failures ?? []).filter((t) => t > now - f.windowMs);
    recent.push(now);
    if (recent.length >= f.threshold) {
      emits.push({
        type: 'emit',
        eventType: SIGNAL_CONVERSION_FAILED,
        attributes: { count: recent.length, window: f.window, last: type },
      });
      delete auto.failures;
    } else auto.failures = recent;
  } else if (f?.resetOn.has(type) && auto.failures) {
    delete auto.failures;
  }

  return { profile: p, auto, emits };
}

/** The signal an inactivity timer emits when it fires. */
export function inactivitySignal(
  d: CompiledDetectors,
  timer: Timer,
  profile: Profile | undefined,
): EmitEffect {
  const det = d.inactivity.find((x) => x.id === timer.detector);
  return {
    type: 'emit',
    eventType: SIGNAL_INACTIVE,
    attributes: {
      detector: timer.detector,
      ...(det ? { after: det.after } : {}),
      ...(profile?.lastInboundAt ? { lastInboundAt: profile.lastInboundAt } : {}),
    },
  };
}
