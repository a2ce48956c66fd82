/**
 * The rules wiring, part of the composition root (main.ts): the NATS-backed dependencies of the
 * evaluate/trigger API (src/rules/evaluate.ts, trigger.ts) and the scheduler loop (src/rules/scheduler.ts)
 * that fires scheduled campaigns. src/rules/ itself knows nothing of NATS.
 */
import type { KV } from '@nats-io/kv';
import type { SafetyGate } from '../actors/conversation/gate.js';
import type { ConversationState } from '../actors/conversation/state.js';
import { decodeMsgpack, encode } from './envelope/codec.js';
import type { DedupeKey } from './envelope/dedupe-key.js';
import type { EventEnvelope } from './envelope/envelope.js';
import { encodeEvent, eventHeaders, ingestSubject } from './envelope/event-message.js';
import type { RuleRoutesOptions } from './http/routes/rules.js';
import type { NatsHandles } from './nats/connection.js';
import { JetStreamPublisher } from './nats/js-publisher.js';
import { DEPLOYMENT_BUCKET } from './nats/provision.js';
import type { Logger } from './obs/logger.js';
import type { SchedulerMetrics } from './obs/ops-metrics.js';
import type { RuleStore } from './rules/rule-store.js';
import { Scheduler } from './rules/scheduler.js';
import type { StoredState } from './runtime/actor-cell.js';

async function loadState(
  kv: KV,
  tenant: string,
  conversation: string,
): Promise<ConversationState | undefined> {
  const entry = await kv.get(`${tenant}.${conversation}`);
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  return (decodeMsgpack(entry.value) as StoredState<ConversationState>).state;
}

/** Publishes an event Parley chose the id of, its Nats-Msg-Id keyed with the deployment's dedupe secret. */
function eventPublisher(handles: NatsHandles, msgId: DedupeKey) {
  const publisher = new JetStreamPublisher(handles.js, undefined, { eventKey: msgId });
  return (event: EventEnvelope) =>
    publisher.publish({
      subject: ingestSubject(event),
      data: encodeEvent(event),
      msgId: event.id,
      headers: eventHeaders(event),
    });
}

export async function ruleRoutes(o: {
  rules: RuleStore;
  handles: NatsHandles;
  stateBucket: string;
  gate: SafetyGate;
  tenants: readonly string[];
  msgId: DedupeKey;
}): Promise<RuleRoutesOptions> {
  const kv = await o.handles.kvm.open(o.stateBucket);
  const publishEvent = eventPublisher(o.handles, o.msgId);
  const publisher = new JetStreamPublisher(o.handles.js);
  return {
    tenants: o.tenants,
    evaluate: () => ({ rules: o.rules.current, gate: o.gate, loadState: (t, c) => loadState(kv, t, c) }),
    trigger: () => ({
      rules: o.rules.current,
      publishEvent,
      audit: async (record) => {
        const tenant = String(record.tenant);
        const conversation = String(record.conversation);
        const id = `operator.trigger.${String(record.eventId)}`;
        await publisher.publish({
          subject: `audit.operator.${tenant}.${conversation}`,
          data: encode(record),
          msgId: id,
          headers: {
            'Nats-Msg-Id': id,
            'Parley-Type': 'audit.operator',
            'Parley-Tenant': tenant,
            'Parley-Conversation': conversation,
          },
        });
      },
    }),
  };
}

export interface RunningScheduler {
  stop(): Promise<void>;
}

/** Ticks the scheduler every `everyMs` until stopped; a failing tick is logged and retried next time. */
export async function startScheduler(o: {
  rules: RuleStore;
  handles: NatsHandles;
  stateBucket: string;
  tenants: Record<string, string>;
  log: Logger;
  everyMs?: number;
  /** Runs and published events (parley_scheduler_*). */
  metrics?: SchedulerMetrics;
  msgId: DedupeKey;
}): Promise<RunningScheduler> {
  const state = await o.handles.kvm.open(o.stateBucket);
  const runs = await o.handles.kvm.open(DEPLOYMENT_BUCKET);
  const publish = eventPublisher(o.handles, o.msgId);
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const scheduler = new Scheduler({
    rules: () => o.rules.current,
    tenants: o.tenants,
    log: o.log.child({ role: 'scheduler' }),
    ports: {
      async *conversations(tenant) {
        const keys = await state.keys(`${tenant}.>`);
        for await (const key of keys) {
          if (stopped) return;
          const s = await loadState(state, tenant, key.slice(tenant.length + 1));
          if (s) yield s;
        }
      },
      publish: async (event) => {
        await publish(event);
        o.metrics?.events.inc();
      },
      lastRun: async (key) => {
        const e = await runs.get(`schedule-runs.${key}`);
        return e && e.length > 0 ? (decodeMsgpack(e.value) as number) : undefined;
      },
      recordRun: async (key, at) => {
        await runs.put(`schedule-runs.${key}`, encode(at));
        // key: <schedule>.<tenant>; the schedule id is the label (tenants would multiply the series).
        o.metrics?.runs.inc({ schedule: key.slice(0, key.lastIndexOf('.')) });
      },
      sleep: (ms) => (stopped ? Promise.resolve() : sleep(ms)),
    },
  });
  const loop = (async () => {
    while (!stopped) {
      try {
        await scheduler.tick();
      } catch (err) {
        o.log.error({ err }, 'scheduler tick failed; retrying at the next tick');
      }
      if (!stopped) await sleep(o.everyMs ?? 30_000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
