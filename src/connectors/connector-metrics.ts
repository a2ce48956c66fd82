/**
 * Connector metrics, on the registry the composition root passes in. Labels: channel and a small set of
 * results/reasons only (never a tenant, conversation or action ID).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function createConnectorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    actionsTotal: new Counter({
      name: 'parley_connector_actions_total',
      help: 'Actions handled by connectors, by channel and result (sent, duplicate, retried, held, resent, throttled, deferred, blocked, dead_lettered, ambiguous)',
      labelNames: ['channel', 'result'] as const,
      registers,
    }),
    sendSeconds: new Histogram({
      name: 'parley_connector_send_seconds',
      help: 'Duration of one provider call, by channel and outcome (ok, error)',
      labelNames: ['channel', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    decisionToSendSeconds: new Histogram({
      name: 'parley_connector_decision_to_send_seconds',
      help: 'Time from the decision (decidedAt, plus any requested delay) to the provider accepting the send',
      labelNames: ['channel'] as const,
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    ingestToSendSeconds: new Histogram({
      name: 'parley_ingest_to_send_seconds',
      help:
        'End to end: from the triggering event stored in EVENTS (the ingest acknowledgement) to the provider ' +
        'accepting the send, for actions an ingested event triggered at once (no delay, no timer or detector)',
      labelNames: ['channel'] as const,
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    tokenWaitSeconds: new Histogram({
      name: 'parley_connector_token_wait_seconds',
      help: 'Time an action waited in place for a rate-limit token',
      labelNames: ['channel'] as const,
      buckets: [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    tokenLeasesTotal: new Counter({
      name: 'parley_connector_token_leases_total',
      help: 'Compare-and-set rounds on shared token buckets, by outcome (granted, empty, conflict)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    tokensLeasedTotal: new Counter({
      name: 'parley_connector_tokens_leased_total',
      help: 'Tokens taken from shared token buckets',
      registers,
    }),
    deadLettersTotal: new Counter({
      name: 'parley_connector_dead_letters_total',
      help: 'Actions written to the DLQ, by channel and reason',
      labelNames: ['channel', 'reason'] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: 'parley_connector_inflight_actions',
      help: 'Actions delivered to this process and not yet acked or nakked, by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
  };
}

export type ConnectorMetrics = ReturnType<typeof createConnectorMetrics>;
