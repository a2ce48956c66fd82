/**
 * ActionExecutor without a server: in-memory execution records and token buckets, a fake adapter and a
 * recording publisher. Covers the reconcile paths (status lookup, idempotency key, ambiguous), duplicates,
 * scheduling, invalid bytes and the retry/dead-letter decisions as Dispositions.
 */

import { Registry } from 'prom-client';
import t from 'tap';
import { ActionExecutor, type ActionExecutorDeps } from '../../src/connectors/action-executor.js';
import type { ChannelAdapter, DeliveryStatus, Reconcile } from '../../src/connectors/channel.js';
import { createConnectorMetrics } from '../../src/connectors/connector-metrics.js';
import { type ExecutionRecord, ExecutionStore } from '../../src/connectors/executions.js';
import { allowAllGate } from '../../src/connectors/pre-send-gate.js';
import { type BucketState, TokenBuckets } from '../../src/connectors/token-buckets.js';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import { FencedError, RetryableError, TerminalError } from '../../src/errors/app-error.js';
import { createLogger } from '../../src/obs/logger.js';
import type { ActionMessage } from '../../src/runtime/outbound.js';
import type {
  Clock,
  InboundMessage,
  OutboundMessage,
  Versioned,
  VersionedStore,
} from '../../src/runtime/ports.js';
import { action } from '../helpers/connectors.js';

class Memory<T> implements VersionedStore<T> {
  readonly m = new Map<string, { value: T; revision: number }>();
  async load(key: string): Promise<Versioned<T>> {
    const e = this.m.get(key);
    return e ? { value: e.value, revision: e.revision } : { value: undefined, revision: 0 };
  }
  async save(key: string, value: T, revision: number): Promise<number> {
    const current = this.m.get(key)?.revision ?? 0;
    if (current !== revision) throw new FencedError('conflict');
    this.m.set(key, { value, revision: current + 1 });
    return current + 1;
  }
}

function inbound(a: ActionMessage | Uint8Array, deliveryCount = 1): InboundMessage {
  const data = a instanceof Uint8Array ? a : encode(a);
  const subject =
    a instanceof Uint8Array ? 'act.0.webhook.acme.x' : `act.0.${a.channel}.${a.tenant}.${a.conversation}`;
  return {
    seq: 1,
    subject,
    data,
    timestampMs: 0,
    deliveryCount,
    header: () => undefined,
    ack: () => undefined,
    nak: () => undefined,
    working: () => undefined,
  };
}

function setup(
  reconcile: Reconcile,
  behaviour: { send?: () => Promise<never> | undefined; status?: DeliveryStatus } = {},
) {
  let now = Date.parse('2026-01-01T00:00:10Z');
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  const records = new Memory<ExecutionRecord>();
  const published: OutboundMessage[] = [];
  const sends: string[] = [];
  const adapter: ChannelAdapter<unknown> = {
    channel: 'webhook',
    reconcile,
    async send(envelope) {
      const failure = behaviour.send?.();
      if (failure) await failure;
      sends.push(envelope.id);
      return { deliveryId: `d-${envelope.id}`, status: 'delivered' };
    },
    ...(behaviour.status ? { status: async () => behaviour.status! } : {}),
  };
  const deps: ActionExecutorDeps = {
    channel: 'webhook',
    adapter,
    configFor: (tenant) => (tenant === 'acme' ? {} : undefined),
    gate: allowAllGate,
    tokens: new TokenBuckets(new Memory<BucketState>(), { clock, leaseBatch: 8, leaseTtlMs: 250 }),
    executions: new ExecutionStore(records),
    publisher: {
      publish: async (m) => {
        published.push(m);
        return { seq: published.length, duplicate: false };
      },
    },
    metrics: createConnectorMetrics(new Registry()),
    log: createLogger({ level: 'silent' }),
    clock,
    owner: 'test',
    settings: {
      maxAttempts: 2,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      sendTimeoutMs: 1000,
      maxDeliveries: 10,
      maxThrottleWaitMs: 0,
    },
  };
  const subjects = () => published.map((m) => m.subject);
  return {
    executor: new ActionExecutor(deps),
    deps,
    metrics: deps.metrics,
    records,
    published,
    subjects,
    sends,
    advance: (ms: number) => {
      now += ms;
    },
    stale: async (id: string) => {
      records.m.set(id, {
        value: { status: 'claimed', channel: 'webhook', owner: 'dead', attempt: 1, claimedAt: now - 60_000 },
        revision: 1,
      });
    },
  };
}

const a = () => action('acme', 'c1', 1, 'webhook', { decidedAt: '2026-01-01T00:00:00Z' });

t.test(
  'connectors - executor: send, record, outcome; a second delivery is acked without sending',
  async (t) => {
    const s = setup('none');
    const unreported = { ...a(), reportSent: false };
    t.same(await s.executor.handle(inbound(unreported)), { type: 'ack' });
    t.same(s.sends, [a().id], 'sent once');
    t.match(
      s.records.m.get(a().id)?.value,
      { status: 'sent', deliveryId: `d-${a().id}` },
      'record says sent',
    );
    t.same(s.subjects(), [], 'no outcome event: nothing in the rule set consumes action.sent');
    t.same(await s.executor.handle(inbound(unreported, 2)), { type: 'ack' }, 'redelivery acked');
    t.equal(s.sends.length, 1, 'not sent again');

    const reported = setup('none');
    const r = () => ({ ...a(), reportSent: true });
    t.same(await reported.executor.handle(inbound(r())), { type: 'ack' });
    t.same(reported.subjects(), ['ingest.acme.c1.action.sent'], 'reportSent: the outcome event');
    const e2e = await reported.metrics.ingestToSendSeconds.get();
    t.equal(
      e2e.values.find((v) => v.metricName === 'parley_ingest_to_send_seconds_count')?.value,
      1,
      'one ingest -> send observation',
    );

    // A debounced send carries the burst's last message as its event and was decided when the window
    // closed: not an ingest -> send latency.
    const debounced = setup('none');
    const d = {
      ...a(),
      reportSent: true,
      decision: { rulesVersion: 'v', trigger: { eventId: 'm', type: 'message.received', seq: 1 } },
    };
    t.same(await debounced.executor.handle(inbound(d)), { type: 'ack' });
    const none = await debounced.metrics.ingestToSendSeconds.get();
    t.equal(
      none.values.find((v) => v.metricName === 'parley_ingest_to_send_seconds_count')?.value ?? 0,
      0,
      'no ingest -> send observation for an action decided after its trigger',
    );
  },
);

t.test(
  'connectors - executor: a stale claim reconciles by status lookup, by idempotency key, or dead-letters as ambiguous',
  async (t) => {
    const found = setup('status', { status: { state: 'delivered', deliveryId: 'p-1' } });
    await found.stale(a().id);
    t.same(await found.executor.handle(inbound(a(), 2)), { type: 'ack' });
    t.equal(found.sends.length, 0, 'status said delivered: not resent');
    t.match(found.records.m.get(a().id)?.value, { status: 'sent', deliveryId: 'p-1' });

    const missing = setup('status', { status: { state: 'not_found' } });
    await missing.stale(a().id);
    await missing.executor.handle(inbound(a(), 2));
    t.equal(missing.sends.length, 1, 'status said not found: sent');

    const keyed = setup('idempotency-key');
    await keyed.stale(a().id);
    await keyed.executor.handle(inbound(a(), 2));
    t.equal(keyed.sends.length, 1, 'idempotency key: resent with the same key');

    const blind = setup('none');
    await blind.stale(a().id);
    t.same(await blind.executor.handle(inbound(a(), 2)), { type: 'ack' });
    t.equal(blind.sends.length, 0, 'no way to tell: never resent');
    t.match(blind.records.m.get(a().id)?.value, { status: 'dead', reason: 'ambiguous' });
    t.same(blind.subjects().sort(), [
      'audit.dead-letter.acme.c1',
      'dlq.webhook.acme',
      'ingest.acme.c1.action.failed',
    ]);
    const dead = decodeMsgpack(blind.published.find((m) => m.subject === 'dlq.webhook.acme')!.data) as Record<
      string,
      unknown
    >;
    t.equal(dead.reason, 'ambiguous');
  },
);

t.test(
  'connectors - executor: retryable naks with a hold, terminal and exhausted attempts dead-letter',
  async (t) => {
    let calls = 0;
    const s = setup('none', {
      send: () =>
        ++calls <= 2
          ? Promise.reject(new RetryableError('503', { code: 'HTTP_503', retryAfterMs: 700 }))
          : undefined,
    });
    const first = await s.executor.handle(inbound(a()));
    t.match(first, { type: 'nak', hold: true }, 'retryable: nak and hold the conversation');
    t.ok(first.type === 'nak' && first.delayMs >= 700 && first.delayMs <= 750, 'after Retry-After');
    t.match(s.records.m.get(a().id)?.value, { status: 'retry', attempt: 1 });
    const second = await s.executor.handle(inbound(a(), 2));
    t.same(second, { type: 'ack' }, 'maxAttempts 2: the second failure dead-letters');
    t.match(s.records.m.get(a().id)?.value, { status: 'dead', reason: 'max_attempts' });

    const terminal = setup('none', {
      send: () => Promise.reject(new TerminalError('400', { code: 'HTTP_400' })),
    });
    t.same(await terminal.executor.handle(inbound(a())), { type: 'ack' });
    t.match(terminal.records.m.get(a().id)?.value, { status: 'dead', reason: 'rejected', attempt: 1 });
  },
);

t.test(
  'connectors - executor: delayed actions wait unheld, bad bytes and unknown tenants dead-letter',
  async (t) => {
    const s = setup('none');
    const later = action('acme', 'c2', 1, 'webhook', { decidedAt: '2026-01-01T00:00:10Z', delayMs: 5000 });
    t.same(
      await s.executor.handle(inbound(later)),
      { type: 'nak', delayMs: 5000, hold: false },
      'not due: nak until due, no hold',
    );
    t.equal(s.sends.length, 0);
    t.same(await s.executor.handle(inbound(new Uint8Array([0xc1, 0x00]))), { type: 'ack' });
    t.same(s.subjects(), ['dlq.webhook.acme'], 'undecodable bytes are dead-lettered');
    const stranger = action('nobody', 'c3', 1);
    t.same(await s.executor.handle(inbound(stranger)), { type: 'ack' });
    const dead = decodeMsgpack(s.published.at(-3)!.data) as Record<string, unknown>;
    t.equal(dead.reason, 'channel_not_configured');
  },
);

t.test(
  'connectors - executor: first sight on a keyed channel sends before any record, then writes one',
  async (t) => {
    const s = setup('idempotency-key');
    let writes = 0;
    const save = s.records.save.bind(s.records);
    s.records.save = async (key, value, revision) => {
      writes++;
      return save(key, value, revision);
    };
    t.same(await s.executor.handle(inbound(a()), true), { type: 'ack' });
    t.same(s.sends, [a().id], 'sent once');
    t.equal(writes, 1, 'one execution-record write: sent, no claim before it');
    t.match(s.records.m.get(a().id), { revision: 1, value: { status: 'sent', attempt: 1 } });
    t.same(await s.executor.handle(inbound(a(), 2)), { type: 'ack' }, 'a redelivery reads the record');
    t.equal(s.sends.length, 1, 'and is not sent again');

    // A concurrent sender recorded first (a paused previous owner): the record ends up `sent`, once.
    const raced = setup('idempotency-key');
    raced.records.m.set(a().id, {
      value: { status: 'claimed', channel: 'webhook', owner: 'old', attempt: 1, claimedAt: 0 },
      revision: 1,
    });
    t.same(await raced.executor.handle(inbound(a()), true), { type: 'ack' });
    t.match(raced.records.m.get(a().id), { revision: 2, value: { status: 'sent' } }, 'moved to sent by CAS');

    // A failed first-sight send creates the retry record; the retry goes through the claim.
    let fail = true;
    const flaky = setup('idempotency-key', {
      send: () => (fail ? Promise.reject(new RetryableError('503', { code: 'HTTP_503' })) : undefined),
    });
    const first = await flaky.executor.handle(inbound(a()), true);
    t.match(first, { type: 'nak', hold: true }, 'held for a retry');
    t.match(flaky.records.m.get(a().id)?.value, { status: 'retry', attempt: 1 });
    fail = false;
    t.same(await flaky.executor.handle(inbound(a(), 2)), { type: 'ack' });
    t.match(flaky.records.m.get(a().id)?.value, { status: 'sent', attempt: 2 }, 'second attempt counted');

    // Channels that cannot dedupe (uncertain: dead-letter) always claim first.
    const email = setup('none');
    let emailWrites = 0;
    const emailSave = email.records.save.bind(email.records);
    email.records.save = async (key, value, revision) => {
      emailWrites++;
      return emailSave(key, value, revision);
    };
    await email.executor.handle(inbound(a()), true);
    t.equal(emailWrites, 2, 'claim, then mark sent');
  },
);

t.test(
  'connectors - executor: log lines about an action carry its trace id, tenant and conversation',
  async (t) => {
    const lines: Array<Record<string, unknown>> = [];
    const s = setup('none', {
      send: () => Promise.reject(new TerminalError('410 gone', { code: 'HTTP_410' })),
    });
    const log = createLogger({
      level: 'info',
      format: 'json',
      destination: { write: (line: string) => lines.push(JSON.parse(line)) } as never,
    });
    const executor = new ActionExecutor({ ...s.deps, log });
    await executor.handle(inbound({ ...a(), traceId: 'trace-42' }));
    const dead = lines.find((l) => l.msg === 'action dead-lettered');
    t.match(dead, { traceId: 'trace-42', tenant: 'acme', conversation: 'c1', action: a().id });
  },
);
