/**
 * Helpers for connector tests: actions published straight to ACTIONS (as conversation actors publish
 * them), a simulated platform on 127.0.0.1:0, child `parley start --roles actors,connectors` processes (for kill -9
 * tests) configured through a temporary config file, and DLQ reads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headers } from '@nats-io/transport-node';
import { decodeMsgpack, encode } from '../../src/envelope/codec.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { NatsDeadLetterStore } from '../../src/nats/dlq-store.js';
import { partitionFor } from '../../src/nats/server-config.js';
import { type ActionMessage, actionSubject } from '../../src/runtime/outbound.js';
import { SimPlatform, type SimPlatformOptions } from '../../src/sim/sim-platform.js';
import { type ChildParley, spawnCli, tempDir } from './parley.js';

type Teardown = { teardown(fn: () => unknown): void };

export function action(
  tenant: string,
  conversation: string,
  seq: number,
  channel = 'webhook',
  extra: Partial<ActionMessage> = {},
): ActionMessage {
  return {
    schema: 1,
    id: `${tenant}.${conversation}.${seq}.0`,
    type: 'action',
    tenant,
    conversation,
    channel,
    rule: 'test-rule',
    template: 'ack',
    variables: { n: seq },
    event: { id: `${conversation}-e${seq}`, type: 'message.received', attributes: { n: seq }, seq },
    decidedAt: new Date().toISOString(),
    // These tests read the outcome events as an independent record of each send.
    reportSent: true,
    ...extra,
  };
}

/** `act.<partition>.<channel>.<tenant>.<conversation>`, as conversation actors publish an action. */
export function actionSubjectOf(a: ActionMessage, partitions: number): string {
  return actionSubject(
    partitionFor(a.tenant, a.conversation, partitions),
    a.channel,
    a.tenant,
    a.conversation,
  );
}

/** Publishes actions the way conversation actors do: on their partition's subject, Nats-Msg-Id = action ID. */
export async function publishActions(
  h: NatsHandles,
  actions: ActionMessage[],
  partitions: number,
): Promise<void> {
  for (let i = 0; i < actions.length; i += 1000) {
    await Promise.all(
      actions.slice(i, i + 1000).map((a) => {
        const hdrs = headers();
        hdrs.set('Content-Type', 'application/msgpack');
        return h.js.publish(actionSubjectOf(a, partitions), encode(a), {
          msgID: a.id,
          headers: hdrs,
        });
      }),
    );
  }
}

export async function startSim(t: Teardown, options: SimPlatformOptions = {}): Promise<SimPlatform> {
  const sim = new SimPlatform({ host: '127.0.0.1', port: 0, ...options });
  await sim.start();
  t.teardown(() => sim.stop());
  return sim;
}

export async function deadLetters(
  h: NatsHandles,
  filter = 'dlq.>',
): Promise<Array<Record<string, unknown> & { seq: number }>> {
  const stored = await new NatsDeadLetterStore(h).list(filter);
  return stored.map((m) => ({ ...(decodeMsgpack(m.data) as Record<string, unknown>), seq: m.seq }));
}

/** Outcome events (action.sent / action.failed) that reached EVENTS, decoded. */
export async function outcomeEvents(
  h: NatsHandles,
  type: 'action.sent' | 'action.failed',
): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let seq = 1;
  for (;;) {
    const m = await h.jsm.direct.getMessage('EVENTS', { seq, next_by_subj: `evt.*.*.*.${type}` });
    if (!m) break;
    out.push(decodeMsgpack(m.data) as Record<string, unknown>);
    seq = m.seq + 1;
  }
  return out;
}

/** The execution record of an action (parley-executions), decoded; undefined if there is none. */
export async function executionRecord(
  h: NatsHandles,
  actionId: string,
): Promise<Record<string, unknown> | undefined> {
  const kv = await h.kvm.open('parley-executions');
  const entry = await kv.get(actionId);
  if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
  return decodeMsgpack(entry.value) as Record<string, unknown>;
}

export type ChildConnectors = ChildParley;

/**
 * Runs `parley start --roles actors,connectors` from source in a child process with `config` (a partial parley.yaml
 * tree) written to a temporary file; `env` adds PARLEY_* variables (e.g. the crash point).
 */
export function spawnConnectors(
  t: Teardown,
  natsUrl: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): ChildConnectors {
  const dir = tempDir(t, 'parley-connectors-');
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    JSON.stringify({ dataDir: dir, nats: { url: natsUrl }, log: { level: 'info' }, ...config }, null, 2),
  );
  return spawnCli(t, ['start', '--roles', 'actors,connectors'], { PARLEY_CONFIG: file, ...env });
}
