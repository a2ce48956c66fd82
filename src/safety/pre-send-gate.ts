/**
 * The safety layer's pre-send gate for the connectors: right before a send, re-checks what can change after
 * the decision: the conversation's escalation hold, kill switches and pauses, consent / DND (snapshots of
 * parley-control and parley-consent), and the tenant's daily cap (tenant-daily-cap.ts). Blocked actions are
 * recorded by the runner (AUDIT audit.blocked.*, outcome event action.failed); deferred ones come back later.
 *
 * A paused or held action is re-checked after `recheckMs` at first, then less often the longer it has waited
 * (5% of its age, at most 5 minutes), so a long pause does not exhaust the runner's delivery budget; one
 * older than `maxHoldMs` is dropped rather than sent late.
 */

import type { ActionMessage } from '../contracts/action.js';
import type { SafetySwitches } from '../contracts/conversation/gate.js';
import type { Clock } from '../contracts/ports.js';
import type { GateVerdict, PreSendGate } from '../contracts/pre-send-gate.js';
import { consentGuard } from './consent-guard.js';
import { type HoldRecord, holdKey } from './control.js';
import { OPERATOR_RULE } from './escalation-guard.js';
import { killSwitchGuard } from './kill-switch-guard.js';
import type { SafetyPolicy } from './policy.js';
import type { TenantDailyCap } from './tenant-daily-cap.js';

export interface SafetyPreSendGateOptions {
  policy: SafetyPolicy;
  switches: SafetySwitches;
  /** Absent: tenant daily caps are not enforced (none configured). */
  tenantCap?: TenantDailyCap;
  clock: Clock;
}

const ALLOW: GateVerdict = Object.freeze({ allow: true });
const MAX_RECHECK_MS = 300_000;

export class SafetyPreSendGate implements PreSendGate {
  readonly #o: SafetyPreSendGateOptions;

  constructor(options: SafetyPreSendGateOptions) {
    this.#o = options;
  }

  async check(action: ActionMessage): Promise<GateVerdict> {
    const { policy, switches, clock } = this.#o;
    const now = clock.now();
    const decided = Date.parse(action.decidedAt);
    const age = Number.isFinite(decided) ? Math.max(0, now - decided - (action.delayMs ?? 0)) : 0;
    const { recheckMs, maxHoldMs } = policy.config.pause;
    const later = (reason: string): GateVerdict =>
      age > maxHoldMs
        ? { allow: false, outcome: 'blocked', reason: `${reason}-too-long` }
        : {
            allow: false,
            outcome: 'deferred',
            reason,
            retryAfterMs: Math.min(MAX_RECHECK_MS, Math.max(recheckMs, Math.round(age / 20))),
          };

    const target = {
      tenant: action.tenant,
      conversation: action.conversation,
      rule: action.rule,
      channel: action.channel,
      // An opt-out confirmation passes the DND record its own opt-out wrote (consent-guard.ts).
      ...(action.optOutConfirmation ? { confirms: action.optOutConfirmation } : {}),
    };
    const consent = consentGuard(target, undefined, switches.consent);
    if (consent.verdict === 'block') return { allow: false, outcome: 'blocked', reason: 'dnd' };
    const kill = killSwitchGuard(target, switches.control);
    if (kill.verdict === 'block')
      return { allow: false, outcome: 'blocked', reason: `killed:${kill.detail?.key}` };

    if (action.rule !== OPERATOR_RULE) {
      const hold = switches.control.get(holdKey(action.tenant, action.conversation)) as
        | HoldRecord
        | undefined;
      if (hold?.status === 'open') return later('escalated');
      if (hold?.status === 'closed') return { allow: false, outcome: 'blocked', reason: 'automation-closed' };
      if (hold?.status === 'replied' && Number.isFinite(decided) && decided < (hold.dropBefore ?? 0))
        return { allow: false, outcome: 'blocked', reason: 'superseded-by-reply' };
    }
    if (kill.verdict === 'defer') return later('paused');

    const tenant = policy.tenant(action.tenant);
    if (tenant.perTenantPerDay !== undefined && this.#o.tenantCap) {
      const ok = await this.#o.tenantCap.take(
        action.tenant,
        action.id,
        tenant.perTenantPerDay,
        now,
        tenant.timeZone,
      );
      if (!ok) return { allow: false, outcome: 'blocked', reason: 'tenant-daily-cap' };
    }
    return ALLOW;
  }
}
