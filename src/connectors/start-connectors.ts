/**
 * Wires the connectors role: one runner per channel that at least one tenant configures, each with its
 * adapter, the shared token buckets (parley-tokens) and execution records (parley-executions). Called by
 * the composition root; stop() drains runners first, then returns leased tokens and closes adapters.
 */
import type { Registry } from 'prom-client';
import { CHANNEL_NAMES, type ChannelName } from '../config/connectors-schema.js';
import type { ParleyConfig } from '../config/schema.js';
import type { Logger } from '../obs/logger.js';
import type { Clock, Publisher, VersionedStore } from '../runtime/ports.js';
import { ActionExecutor, type ChannelSettings, type CrashPoint } from './action-executor.js';
import type { ChannelAdapter } from './channel.js';
import { createAdapter } from './channels/index.js';
import { createConnectorMetrics } from './connector-metrics.js';
import { type ActionConsumerSource, ConnectorRunner } from './connector-runner.js';
import { type ExecutionRecord, ExecutionStore } from './executions.js';
import type { PreSendGate } from './pre-send-gate.js';
import { type BucketState, TokenBuckets } from './token-buckets.js';

export interface ConnectorsDeps {
  config: ParleyConfig;
  owner: string;
  source: ActionConsumerSource;
  tokenStore: VersionedStore<BucketState>;
  executionStore: VersionedStore<ExecutionRecord>;
  publisher: Publisher;
  gate: PreSendGate;
  registry: Registry;
  log: Logger;
  clock: Clock;
  /** Overrides the built-in adapters (tests). */
  adapters?: Partial<Record<ChannelName, ChannelAdapter<never>>>;
}

export interface Connectors {
  readonly channels: string[];
  stop(drainMs?: number): Promise<void>;
}

/** Channels configured by at least one tenant, in the built-in order. */
export function configuredChannels(config: ParleyConfig): ChannelName[] {
  return CHANNEL_NAMES.filter((c) => Object.values(config.tenants).some((t) => t.channels[c] !== undefined));
}

/** The connectors.crashAt test hook: SIGKILL this process at the n-th pass through the named point. */
function crashHook(config: ParleyConfig, log: Logger): ((point: CrashPoint) => void) | undefined {
  const { crashAt, crashAfter } = config.connectors;
  if (!crashAt) return undefined;
  log.warn(
    { crashAt, crashAfter },
    'connectors.crashAt is set: this process will kill itself (testing only)',
  );
  let passes = 0;
  return (point) => {
    if (point !== crashAt || ++passes !== crashAfter) return;
    process.stderr.write(`{"msg":"crash point reached","point":"${point}"}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}

export async function startConnectors(deps: ConnectorsDeps): Promise<Connectors> {
  const { config, log } = deps;
  const settings = config.connectors;
  const metrics = createConnectorMetrics(deps.registry);
  const tokens = new TokenBuckets(deps.tokenStore, {
    clock: deps.clock,
    leaseBatch: settings.tokenLeaseBatch,
    leaseTtlMs: settings.tokenLeaseTtlMs,
    onLease: (_key, outcome, n) => {
      metrics.tokenLeasesTotal.inc({ outcome });
      if (n > 0) metrics.tokensLeasedTotal.inc(n);
    },
  });
  const executions = new ExecutionStore(deps.executionStore);
  const crashPoint = crashHook(config, log);
  const runners: ConnectorRunner[] = [];
  const adapters: ChannelAdapter<never>[] = [];
  const channels = configuredChannels(config);
  try {
    for (const channel of channels) {
      const adapter = deps.adapters?.[channel] ?? createAdapter(channel);
      adapters.push(adapter);
      const executor = new ActionExecutor({
        channel,
        adapter: adapter as ChannelAdapter<unknown>,
        configFor: (tenant) => config.tenants[tenant]?.channels[channel] as ChannelSettings | undefined,
        gate: deps.gate,
        tokens,
        executions,
        publisher: deps.publisher,
        metrics,
        log: log.child({ channel }),
        clock: deps.clock,
        owner: deps.owner,
        settings,
        crashPoint,
      });
      const runner = new ConnectorRunner({
        channel,
        source: deps.source,
        executor,
        metrics,
        log,
        clock: deps.clock,
        settings,
      });
      await runner.start();
      runners.push(runner);
    }
  } catch (err) {
    await Promise.all(runners.map((r) => r.stop(0)));
    throw err;
  }
  return {
    channels,
    async stop(drainMs) {
      await Promise.all(runners.map((r) => r.stop(drainMs)));
      await tokens.close();
      await Promise.all(adapters.map((a) => a.close?.()));
    },
  };
}
