/**
 * Composition root: start(config) wires the roles this process runs and returns { stop() }. Owns the
 * drain order: stop pulling -> finish and ack what is held -> release leases -> drain the NATS
 * connection -> stop the embedded server. Nothing is acked that was not processed.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { ConversationState } from '../actors/conversation/state.js';
import { conversationActor } from '../actors/index.js';
import { parsePartitionSet } from './config/load.js';
import type { ParleyConfig } from './config/schema.js';
import type { ExecutionRecord } from './connectors/executions.js';
import { PartitionDispatcher } from './connectors/partition-dispatcher.js';
import type { PreSendGate } from './connectors/pre-send-gate.js';
import { type Connectors, configuredChannels, startConnectors } from './connectors/start-connectors.js';
import type { BucketState } from './connectors/token-buckets.js';
import { BUCKETS } from './contracts/names.js';
import { AppError, ConfigError, errorMessage } from './errors/app-error.js';
import { buildOpsApp } from './http/ops-app.js';
import { type IngestServer, startIngest } from './ingest-role.js';
import { natsActionSource } from './nats/action-source.js';
import { connectNats, connectOptionsFrom, type NatsHandles } from './nats/connection.js';
import { loadDefinitions } from './nats/definitions.js';
import { embeddedServerOptions, type RunningNatsServer, startNatsServer } from './nats/embedded-server.js';
import { JetStreamPublisher } from './nats/js-publisher.js';
import { KvVersionedStore } from './nats/kv-versioned-store.js';
import { dlqDepthByChannel, partitionLag } from './nats/ops-gauges.js';
import { NatsPartitionSource } from './nats/partition-source.js';
import { applyDefinitions, deploymentDedupeKey } from './nats/provision.js';
import { natsReadiness } from './nats/readiness.js';
import { KvRuleRepository, RULES_BUCKET } from './nats/rules-bucket.js';
import { checkServerVersion } from './nats/server-version.js';
import { KvTimerIndex } from './nats/timer-index.js';
import { createLogger, type Logger } from './obs/logger.js';
import { createRegistry, createRuntimeMetrics } from './obs/metrics.js';
import { createSchedulerMetrics, registerOpsGauges } from './obs/ops-metrics.js';
import { preflight } from './preflight.js';
import { warnChannelGaps } from './rules/channel-check.js';
import { RuleStore } from './rules/rule-store.js';
import { ruleRoutes, startScheduler } from './rules-role.js';
import type { StoredState } from './runtime/actor-cell.js';
import { ActorWorker } from './runtime/actor-worker.js';
import { InFlightGate } from './runtime/in-flight.js';
import type { Membership } from './runtime/partition-balancer.js';
import type { LeaseRecord } from './runtime/partition-lease.js';
import { formatPartitionSet } from './runtime/partition-set.js';
import { type PartitionStageFactory, systemClock } from './runtime/ports.js';
import { TimerWheel } from './runtime/timer-wheel.js';
import { startSafety } from './safety-role.js';
import { SimPlatform } from './sim/sim-platform.js';
import { startPostgresSource } from './source-role.js';

export const ROLES = ['actors', 'connectors', 'scheduler', 'ingest', 'source'] as const;
export type Role = (typeof ROLES)[number];

export const STATE_BUCKET = BUCKETS.state;
export const LEASES_BUCKET = BUCKETS.leases;
export const TOKENS_BUCKET = BUCKETS.tokens;
export const EXECUTIONS_BUCKET = BUCKETS.executions;

export interface StartOptions {
  roles?: readonly Role[];
  logger?: Logger;
  registry?: Registry;
  /** Apply streams/ definitions before starting (default true). */
  provision?: boolean;
  /** Upper bound for draining held messages on stop, in ms. */
  drainMs?: number;
  /** Checked by the connectors right before every send; default allows everything. */
  preSendGate?: PreSendGate;
  /**
   * Serve /healthz, /readyz and /metrics on http.host:http.port when the ingest role (which serves them
   * itself) does not run here (`parley start --http-port`). Default false: no port.
   */
  opsHttp?: boolean;
}

export interface Parley {
  readonly natsUrl: string;
  readonly owner: string;
  readonly log: Logger;
  readonly registry: Registry;
  readonly actors: ActorWorker<ConversationState> | undefined;
  /** The rules the actors decide with (hot-reloaded), when the actors role runs. */
  readonly rules: RuleStore | undefined;
  readonly connectors: Connectors | undefined;
  /** The in-process simulated platform (simPlatform.enabled), if running. */
  readonly simPlatform: SimPlatform | undefined;
  /** The HTTP API (ingest role), if running; `url` has the bound port. */
  readonly ingest: IngestServer | undefined;
  /** The health/readiness/metrics listener of a process without ingest (opsHttp), with its bound port. */
  readonly opsUrl: string | undefined;
  stop(): Promise<void>;
}

export function newOwnerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export async function start(config: ParleyConfig, options: StartOptions = {}): Promise<Parley> {
  const log = options.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const registry = options.registry ?? createRegistry();
  const roles = new Set(options.roles ?? ROLES);
  if (roles.has('connectors') && !roles.has('actors')) {
    throw new ConfigError('the connectors role runs inside the partition owners', [
      {
        path: 'roles',
        message:
          'connectors needs actors: the connector stage of a partition runs in the process that owns it, so one owner carries a conversation from event to send (use --roles actors,connectors)',
      },
    ]);
  }
  if (roles.size === 1 && roles.has('source') && !config.sources.postgres) {
    throw new ConfigError('the source role has no source to run', [
      {
        path: 'sources.postgres.dsn',
        message: 'configure a source (or run `parley source postgres --dsn ...`)',
      },
    ]);
  }
  // Validation first: a process that fails it must not first start a server, connect, or take a lease.
  preflight(config, roles, { provision: options.provision });
  const owner = newOwnerId();
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await fn().catch((err) => log.error({ err }, 'error during shutdown'));
  };

  try {
    let server: RunningNatsServer | undefined;
    let actors: ActorWorker<ConversationState> | undefined;
    let url = config.nats.url;
    if (!url) {
      server = await startNatsServer(embeddedServerOptions(config));
      cleanups.push(() => server!.stop());
      url = server.url;
      log.info({ url, serverPid: server.pid, dataDir: config.dataDir }, 'embedded nats-server started');
    }
    const natsUrl = url;
    const handles: NatsHandles = await connectNats({ ...connectOptionsFrom(config, url), log }).catch(
      (err: unknown) => {
        throw new AppError(
          `cannot connect to NATS at ${natsUrl}: ${errorMessage(err)}; start the server, or point nats.url ` +
            '(PARLEY_NATS__URL, --nats-url) at a running one, or unset it for the embedded server',
          { code: 'NATS_UNAVAILABLE', cause: err },
        );
      },
    );
    cleanups.push(async () => {
      await handles.nc.drain();
    });
    // Scrape-time gauges: DLQ depth, and the lag of the partitions this process owns (read when scraped).
    registerOpsGauges(registry, {
      dlqDepth: () => dlqDepthByChannel(handles),
      partitionLag: () =>
        partitionLag(
          handles,
          (actors?.status().partitions ?? []).filter((p) => p.state === 'running').map((p) => p.partition),
        ),
    });
    const version = checkServerVersion(handles.nc.info ?? { version: '0.0.0' }, log);
    log.info({ url, server: version.version, owner, roles: [...roles] }, 'connected to NATS');

    if (options.provision !== false) {
      const report = await applyDefinitions(handles, loadDefinitions(config.streams), {
        partitions: config.partitions,
      });
      // One line for what was created, one per update (with its diff); nothing when all is unchanged.
      const created = report.changes.filter((c) => c.action === 'created').map((c) => c.name);
      if (created.length > 0) log.info({ created }, 'provisioned streams and buckets');
      for (const c of report.changes) {
        if (c.action === 'updated')
          log.info({ kind: c.kind, name: c.name, action: c.action, diff: c.diff }, 'provisioned');
      }
    }

    const safety = await startSafety(config, handles, log, registry);
    cleanups.push(async () => safety.stop());

    // Nats-Msg-Ids of what Parley itself publishes into EVENTS, keyed so no direct producer can pre-empt them.
    const eventKey = await deploymentDedupeKey(handles, config.runtime.dedupe.secret);

    // Hot-reloaded: pushed versions (parley rules push) replace the directory's without a restart.
    let ruleStore: RuleStore | undefined;
    if (roles.has('actors') || roles.has('ingest') || roles.has('scheduler')) {
      const store = await RuleStore.open({
        dir: config.rules,
        repo: new KvRuleRepository(await handles.kvm.open(RULES_BUCKET)),
        log,
      });
      await store.watch();
      cleanups.push(async () => store.stop());
      ruleStore = store;
      if (roles.has('actors')) warnChannelGaps(store.current.sources, config.tenants, log);
    }

    // The connector stage runs inside each partition's owner (same lease, one order from event to send).
    let connectors: Connectors | undefined;
    let simPlatform: SimPlatform | undefined;
    let dispatch: PartitionStageFactory | undefined;
    if (roles.has('connectors')) {
      const sim = config.simPlatform;
      if (sim.enabled) {
        const platform = new SimPlatform({ ...sim, log: log.child({ component: 'sim-platform' }) });
        const simUrl = await platform.start();
        simPlatform = platform;
        cleanups.push(() => platform.stop());
        log.info({ url: simUrl }, 'sim platform listening');
      }
      const running = startConnectors({
        config,
        owner,
        tokenStore: new KvVersionedStore<BucketState>(await handles.kvm.open(TOKENS_BUCKET)),
        executionStore: new KvVersionedStore<ExecutionRecord>(await handles.kvm.open(EXECUTIONS_BUCKET)),
        publisher: new JetStreamPublisher(handles.js, undefined, { eventKey }),
        gate: options.preSendGate ?? safety.preSendGate,
        registry,
        log,
        clock: systemClock,
      });
      connectors = running;
      // Closed after the partitions drained (cleanups run in reverse).
      cleanups.push(() => running.close());
      const cs = config.connectors;
      const dispatchLog = log.child({ role: 'connectors' });
      // Actions held in memory across every owned partition (retrying, throttled, or queued behind those).
      const sendGate = new InFlightGate(config.runtime.maxInFlight);
      dispatch = {
        source: natsActionSource(handles, {
          ackWaitMs: cs.ackWaitMs,
          maxAckPending: cs.maxInFlight,
          pullBatch: cs.pullBatch,
          log,
        }),
        create: (partition, ownership, fail) =>
          new PartitionDispatcher({
            partition,
            handlerFor: running.handlerFor,
            ownership,
            fail,
            gate: sendGate,
            metrics: running.metrics,
            log: dispatchLog,
            clock: systemClock,
            settings: { laneCapacity: cs.laneCapacity, ackWaitMs: cs.ackWaitMs },
          }),
      };
      log.info({ channels: running.channels }, 'connectors running in the partition owners');
    }

    if (roles.has('actors') && !roles.has('connectors') && configuredChannels(config).length > 0) {
      log.warn(
        { channels: configuredChannels(config) },
        'actors without connectors: the partitions this process owns decide but do not send; their actions wait on ACTIONS for an owner that runs both (--roles actors,connectors)',
      );
    }
    if (roles.has('actors') && ruleStore) {
      const rules = ruleStore;
      const timers = new TimerWheel({
        index: await KvTimerIndex.open(handles),
        publisher: new JetStreamPublisher(handles.js, undefined, { eventKey }),
        clock: systemClock,
        log,
      });
      const rt = config.runtime;
      const leasesKv = await handles.kvm.open(LEASES_BUCKET);
      actors = new ActorWorker({
        partitions:
          rt.partitions === 'auto' ? undefined : parsePartitionSet(rt.partitions, config.partitions),
        partitionCount: config.partitions,
        members: new KvVersionedStore<Membership>(leasesKv),
        dispatch,
        owner,
        kind: conversationActor,
        timers,
        contextFor: (seq, now, enrichment) => ({
          seq,
          now,
          rules,
          gate: safety.gate,
          switches: safety.switches,
          enrichment,
        }),
        enrich: safety.enrich,
        source: new NatsPartitionSource(handles, {
          ackWaitMs: rt.ackWaitMs,
          pullBatch: rt.pullBatch,
          maxAckPending: rt.maxInFlight,
          log,
        }),
        store: new KvVersionedStore<StoredState<ConversationState>>(await handles.kvm.open(STATE_BUCKET)),
        leases: new KvVersionedStore<LeaseRecord>(leasesKv),
        publisher: new JetStreamPublisher(handles.js, undefined, { eventKey }),
        metrics: createRuntimeMetrics(registry),
        log,
        clock: systemClock,
        settings: {
          ...rt,
          // The actors hold every event to the limits HTTP ingest applies, whatever path it came by.
          eventLimits: config.http.limits,
          // A deployment that configures tenants serves only those (NATS producers of others are refused).
          ...(Object.keys(config.tenants).length > 0
            ? { tenants: new Set(Object.keys(config.tenants)) }
            : {}),
          ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
        },
      });
      const worker = actors;
      cleanups.push(() => worker.stop(options.drainMs));
      await worker.start();
      const status = worker.status();
      log.info(
        {
          mode: status.mode,
          members: status.members.length,
          partitions: formatPartitionSet(status.partitions.map((p) => p.partition)),
          count: status.partitions.length,
          sends: dispatch !== undefined,
        },
        'actors running',
      );
    }

    if (roles.has('scheduler') && ruleStore) {
      const scheduler = await startScheduler({
        rules: ruleStore,
        handles,
        stateBucket: STATE_BUCKET,
        tenants: Object.fromEntries(Object.entries(config.tenants).map(([id, t]) => [id, t.timeZone])),
        log,
        metrics: createSchedulerMetrics(registry),
        msgId: eventKey,
      });
      cleanups.push(() => scheduler.stop());
    }

    // The source role runs whenever a source is configured: rows from a Postgres outbox into EVENTS.
    const pgSource = config.sources.postgres;
    if (roles.has('source') && pgSource) {
      const source = await startPostgresSource({ config, source: pgSource, handles, log, registry });
      cleanups.push(() => source.stop());
    }

    // --http-port without ingest: this process's health, readiness (owns partitions?) and metrics.
    let opsUrl: string | undefined;
    if (options.opsHttp && !roles.has('ingest')) {
      const owned = actors;
      const ops = buildOpsApp({
        log,
        registry,
        version: '0.1.0',
        readiness: natsReadiness({
          handles,
          streamsDir: config.streams,
          partitions: config.partitions,
          ...(owned ? { actors: () => owned } : {}),
        }),
      });
      opsUrl = await ops.listen({ host: config.http.host, port: config.http.port });
      cleanups.push(() => ops.close());
      log.info({ url: opsUrl, routes: ['/healthz', '/readyz', '/metrics'] }, 'health and metrics listening');
    }

    // Last to start, first to stop: no new events are accepted while the other roles drain.
    let ingest: IngestServer | undefined;
    if (roles.has('ingest') && ruleStore) {
      const api = await startIngest({
        config,
        handles,
        log,
        registry,
        stateBucket: STATE_BUCKET,
        actors: () => actors,
        rules: await ruleRoutes({
          rules: ruleStore,
          handles,
          stateBucket: STATE_BUCKET,
          gate: safety.gate,
          tenants: Object.keys(config.tenants),
          msgId: eventKey,
        }),
      });
      ingest = api;
      cleanups.push(() => api.close());
      log.info({ url: api.url, tenants: Object.keys(config.tenants).length }, 'ingest API listening');
    }

    let stopped: Promise<void> | undefined;
    return {
      natsUrl: url,
      owner,
      log,
      registry,
      actors,
      rules: ruleStore,
      connectors,
      simPlatform,
      ingest,
      opsUrl,
      stop: () => {
        stopped ??= cleanup().then(() => log.info('stopped'));
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Runs until SIGINT/SIGTERM, then drains and resolves. A second signal exits at once. */
export async function runUntilSignal(parley: Parley): Promise<void> {
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        parley.log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(130);
      }
      signalled = true;
      parley.log.info({ signal }, 'draining');
      void parley.stop().then(resolve, (err) => {
        parley.log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
