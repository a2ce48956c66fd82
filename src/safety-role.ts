/**
 * The safety layer's wiring, part of the composition root (main.ts): the compiled policy, the gate the
 * conversation actors use, the switch snapshots (parley-control, parley-consent) kept current by KV watches,
 * the model enrichment step when configured, and the pre-send gate the connectors use. src/safety/ itself
 * stays free of NATS; this file is where the two meet.
 */

import type { Registry } from 'prom-client';
import type { SafetyGate, SafetySwitches } from '../actors/conversation/gate.js';
import { passThroughGate } from '../actors/index.js';
import type { ParleyConfig } from './config/schema.js';
import { allowAllGate, type PreSendGate } from './connectors/pre-send-gate.js';
import { BUCKETS } from './contracts/names.js';
import type { EventEnvelope } from './envelope/envelope.js';
import type { NatsHandles } from './nats/connection.js';
import { KvSnapshot } from './nats/kv-snapshot.js';
import { KvVersionedStore } from './nats/kv-versioned-store.js';
import type { Logger } from './obs/logger.js';
import { createSafetyMetrics, type SafetyMetrics } from './obs/safety-metrics.js';
import { systemClock } from './runtime/ports.js';
import { CONSENT_BUCKET } from './safety/consent.js';
import { CONTROL_BUCKET } from './safety/control.js';
import { modelEnricher } from './safety/model-classifier.js';
import { OpenAiClassifier } from './safety/openai-classifier.js';
import { SafetyPolicy } from './safety/policy.js';
import { SafetyPreSendGate } from './safety/pre-send-gate.js';
import { createSafetyGate } from './safety/safety-gate.js';
import { combineEnrichers, defaultSecondOpinion, secondOpinionEnricher } from './safety/second-opinion.js';
import { type CapCounter, TenantDailyCap } from './safety/tenant-daily-cap.js';

export const CAPS_BUCKET = BUCKETS.tokens;

export interface SafetyRuntime {
  readonly policy: SafetyPolicy | undefined;
  readonly gate: SafetyGate;
  readonly switches: SafetySwitches | undefined;
  readonly enrich: ((event: EventEnvelope) => Promise<Record<string, unknown> | undefined>) | undefined;
  readonly preSendGate: PreSendGate;
  stop(): void;
}

/** Counts decisions and escalations from the gate's effects (a side channel: the gate itself stays pure). */
function instrumentGate(gate: SafetyGate, metrics: SafetyMetrics): SafetyGate {
  return {
    review(input) {
      const result = gate.review(input);
      for (const e of result.effects) {
        if (e.type === 'escalate') metrics.escalationsTotal.inc({ reason: e.reason, priority: e.priority });
        else if (e.type === 'audit' && Array.isArray(e.record.actions)) {
          for (const a of e.record.actions as Array<{
            decision: string;
            guards: Array<{ guard: string; verdict: string }>;
          }>)
            metrics.decisionsTotal.inc({
              decision: a.decision,
              guard: a.guards.find((g) => g.verdict !== 'allow')?.guard ?? 'none',
            });
        }
      }
      return result;
    },
  };
}

function instrumentPreSend(gate: PreSendGate, metrics: SafetyMetrics): PreSendGate {
  return {
    async check(action) {
      const v = await gate.check(action);
      metrics.preSendTotal.inc(
        v.allow
          ? { result: 'allow', reason: 'none' }
          : { result: v.outcome, reason: v.reason.split(':')[0]! },
      );
      return v;
    },
  };
}

export async function startSafety(
  config: ParleyConfig,
  handles: NatsHandles,
  log: Logger,
  registry: Registry,
): Promise<SafetyRuntime> {
  const s = config.safety;
  if (!s.enabled) {
    log.warn('safety gate disabled (safety.enabled: false): every proposed action is sent unchecked');
    return {
      policy: undefined,
      gate: passThroughGate,
      switches: undefined,
      enrich: undefined,
      preSendGate: allowAllGate,
      stop: () => {},
    };
  }
  const policy = new SafetyPolicy(s, config.tenants);
  const slog = log.child({ component: 'safety' });
  const [control, consent] = await Promise.all([
    handles.kvm.open(CONTROL_BUCKET).then((kv) => KvSnapshot.open(kv, CONTROL_BUCKET, slog)),
    handles.kvm.open(CONSENT_BUCKET).then((kv) => KvSnapshot.open(kv, CONSENT_BUCKET, slog)),
  ]);
  control.onChange((key) =>
    slog.info({ key, switch: control.get(key) ?? 'cleared' }, 'control switch changed'),
  );
  const switches: SafetySwitches = { control, consent };
  const anyTenantCap =
    s.caps?.perTenantPerDay !== undefined ||
    Object.values(config.tenants).some((t) => t.safety?.caps?.perTenantPerDay !== undefined);
  const tenantCap = anyTenantCap
    ? new TenantDailyCap({ store: new KvVersionedStore<CapCounter>(await handles.kvm.open(CAPS_BUCKET)) })
    : undefined;
  const hosted = s.model.enabled
    ? modelEnricher(
        new OpenAiClassifier({
          url: s.model.url,
          model: s.model.model,
          apiKey: s.model.apiKey,
          maxConcurrent: s.model.maxConcurrent,
          prompt: s.model.prompt,
        }),
        { timeoutMs: s.model.timeoutMs, eventTypes: s.messageTypes, textFields: s.textFields },
      )
    : undefined;
  // The offline second opinion (in-process naive Bayes): it can only add an escalation.
  const second = s.secondOpinion.enabled
    ? secondOpinionEnricher(defaultSecondOpinion(), { eventTypes: s.messageTypes, textFields: s.textFields })
    : undefined;
  const enrich = combineEnrichers([hosted, second].filter((e) => e !== undefined));
  slog.info(
    {
      switches: control.size,
      consentRecords: consent.size,
      model: s.model.enabled ? s.model.model : 'off',
      secondOpinion: s.secondOpinion.enabled ? 'naive-bayes' : 'off',
    },
    'safety gate ready',
  );
  const metrics = createSafetyMetrics(registry);
  return {
    policy,
    gate: instrumentGate(createSafetyGate(policy), metrics),
    switches,
    enrich,
    preSendGate: instrumentPreSend(
      new SafetyPreSendGate({ policy, switches, tenantCap, clock: systemClock }),
      metrics,
    ),
    stop: () => {
      control.stop();
      consent.stop();
    },
  };
}
