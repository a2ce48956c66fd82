/**
 * Safety metrics (on the registry the composition root passes): decisions by outcome and by the guard that
 * decided, escalations by reason and priority, and pre-send verdicts. Labels are low-cardinality tokens only.
 */
import { Counter, type Registry } from 'prom-client';

export function createSafetyMetrics(registry: Registry) {
  const registers = [registry];
  return {
    decisionsTotal: new Counter({
      name: 'parley_safety_decisions_total',
      help: 'Safety gate decisions per proposed action, by decision (sent, deferred, held, blocked) and deciding guard',
      labelNames: ['decision', 'guard'] as const,
      registers,
    }),
    escalationsTotal: new Counter({
      name: 'parley_safety_escalations_total',
      help: 'Escalations published to ESCALATIONS, by reason and priority',
      labelNames: ['reason', 'priority'] as const,
      registers,
    }),
    preSendTotal: new Counter({
      name: 'parley_safety_presend_total',
      help: 'Pre-send checks at the connectors, by result (allow, blocked, deferred) and reason',
      labelNames: ['result', 'reason'] as const,
      registers,
    }),
  };
}

export type SafetyMetrics = ReturnType<typeof createSafetyMetrics>;
