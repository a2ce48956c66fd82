/**
 * Wires the connector stage: one ActionExecutor per channel (the built-in adapters, the shared token
 * buckets in parley-tokens and execution records in parley-executions), handed to each owned partition's
 * PartitionDispatcher. A channel no tenant configures (or no adapter serves) still gets an executor, one
 * that dead-letters every action as `channel_not_configured`, so every action reaches a fate. Called by
 * the composition root; close() returns leased tokens and closes adapters after the partitions drained.
 */
import type { Registry } from 'prom-client';
import { CHANNEL_NAMES, type ChannelName } from '../config/connectors-schema.js';
import type { ParleyConfig } from '../config/schema.js';
import type { Clock, Publisher, VersionedStore } from '../contracts/ports.js';
import { TerminalError } from '../errors/app-error.js';
import type { Logger } from '../obs/logger.js';
import { ActionExecutor, type ChannelSettings, type CrashPoint } from './action-executor.js';
import type { ChannelAdapter } from './channel.js';
import { createAdapter } from './channels/index.js';
import { type ConnectorMetrics, createConnectorMetrics } from './connector-metrics.js';
import { type ExecutionRecord, ExecutionStore } from './executions.js';
import type { ActionHandler } from './partition-dispatcher.js';
import type { PreSendGate } from './pre-send-gate.js';
import { type BucketState, TokenBuckets } from './token-buckets.js';

export interface ConnectorsDeps {
  config: ParleyConfig;
  owner: string;
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
  /** Channels at least one tenant configures. */
  readonly channels: string[];
  readonly metrics: ConnectorMetrics;
  /** The executor for a channel named on an action's subject. */
  handlerFor(channel: string): ActionHandler;
  close(): Promise<void>;
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

/** The adapter of a channel nothing serves: never called, since no tenant has its configuration. */
function unservedAdapter(channel: string): ChannelAdapter<unknown> {
  return {
    channel,
    reconcile: 'none',
    send: () => Promise.reject(new TerminalError(`no connector serves channel ${channel}`)),
  };
}

export function startConnectors(deps: ConnectorsDeps): Connectors {
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
  const adapters: ChannelAdapter<never>[] = [];
  const executors = new Map<string, ActionExecutor>();
  const served = new Set<string>(configuredChannels(config));

  const executorFor = (channel: string): ActionExecutor => {
    let executor = executors.get(channel);
    if (executor) return executor;
    let adapter: ChannelAdapter<unknown>;
    if (served.has(channel)) {
      const built = deps.adapters?.[channel as ChannelName] ?? createAdapter(channel as ChannelName);
      adapters.push(built);
      adapter = built as ChannelAdapter<unknown>;
    } else adapter = unservedAdapter(channel);
    executor = new ActionExecutor({
      channel,
      adapter,
      configFor: (tenant) =>
        served.has(channel)
          ? (config.tenants[tenant]?.channels[channel as ChannelName] as ChannelSettings | undefined)
          : undefined,
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
    executors.set(channel, executor);
    return executor;
  };
  for (const channel of served) executorFor(channel);

  // Actions this process settled (acked: sent, blocked or dead-lettered), reported when it stops.
  let acked = 0;
  const handlers = new Map<string, ActionHandler>();
  const handlerFor = (channel: string): ActionHandler => {
    let handler = handlers.get(channel);
    if (!handler) {
      const executor = executorFor(channel);
      handler = {
        async handle(msg, firstSight) {
          const d = await executor.handle(msg, firstSight);
          if (d.type === 'ack') acked++;
          return d;
        },
      };
      handlers.set(channel, handler);
    }
    return handler;
  };

  return {
    channels: [...served],
    metrics,
    handlerFor,
    async close() {
      await tokens.close();
      await Promise.all(adapters.map((a) => a.close?.()));
      log.info({ acked, channels: [...served] }, 'connector stopped');
    },
  };
}
