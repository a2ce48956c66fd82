/**
 * Replay speed: events/s of `parley replay` (read EVENTS with an ordered consumer, evaluate the sample rule
 * set in the simulator, diff against itself) over EVENTS events published to a local nats-server first.
 * Bounded: default 50k events over 5k conversations.
 *   npx tsx bench/replay-speed.ts [events] [conversations]
 */
import { join } from 'node:path';
import { headers } from '@nats-io/transport-node';
import { encode } from '../src/envelope/codec.js';
import type { EventEnvelope } from '../src/envelope/envelope.js';
import { eventHeaders, ingestSubject } from '../src/envelope/event-message.js';
import { connectNats } from '../src/nats/connection.js';
import { loadDefinitions } from '../src/nats/definitions.js';
import { readEvents } from '../src/nats/event-reader.js';
import { applyDefinitions } from '../src/nats/provision.js';
import { replayEvents } from '../src/rules/replay.js';
import { loadRuleSet } from '../src/rules/rule-set.js';
import { benchServer } from './harness.js';

const EVENTS = Number(process.argv[2] ?? 50_000);
const CONVERSATIONS = Number(process.argv[3] ?? 5_000);
const TYPES = ['message.received', 'message.received', 'purchase.completed', 'follow.back', 'payment.failed'];

const server = await benchServer(8);
const h = await connectNats({ url: server.url, reconnect: false });
try {
  await applyDefinitions(h, loadDefinitions(join(import.meta.dirname, '..', 'streams')), { partitions: 8 });
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < EVENTS; i += 2000) {
    await Promise.all(
      Array.from({ length: Math.min(2000, EVENTS - i) }, (_, k) => {
        const n = i + k;
        const e: EventEnvelope = {
          schema: 1,
          id: `r${n}`,
          type: TYPES[n % TYPES.length]!,
          tenant: 'acme',
          conversation: `c${n % CONVERSATIONS}`,
          occurredAt: new Date(t0 + n * 1000).toISOString(),
          attributes: { amount: 50 },
        };
        const hdrs = headers();
        for (const [key, v] of Object.entries(eventHeaders(e))) hdrs.set(key, v);
        return h.js.publish(ingestSubject(e), encode(e), { msgID: e.id, headers: hdrs });
      }),
    );
  }
  const rules = loadRuleSet(join(import.meta.dirname, '..', 'rules'));
  const started = performance.now();
  const report = await replayEvents(readEvents(h, { tenant: 'acme' }), { candidate: rules, baseline: rules });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify(
      {
        scenario: 'replay-speed',
        events: report.events.read,
        conversations: report.conversations,
        decisions: report.decisions.length,
        diff: { added: report.diff?.added.length, removed: report.diff?.removed.length },
        seconds: Number(seconds.toFixed(2)),
        eventsPerSecond: Math.round(report.events.read / seconds),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await h.nc.close();
  await server.stop();
}
