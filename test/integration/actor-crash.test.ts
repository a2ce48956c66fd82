/**
 * Crash and drain: a real `parley start` child process is killed (-9) or signalled (SIGTERM) while events
 * stream in; a restarted process must apply every event exactly once, in order, with no duplicate action.
 */
import t, { type Test } from 'tap';
import { digestOf } from '../../actors/conversation/state.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  childOwner,
  connect,
  event,
  publishEvents,
  readLeases,
  readState,
  spawnParley,
  streamCount,
  tempDir,
  waitFor,
} from '../helpers/parley.js';

const PARTITIONS = 4;
const CONVERSATIONS = 100;
const PER_CONVERSATION = 40;

function workload(): EventEnvelope[] {
  const events: EventEnvelope[] = [];
  for (let n = 0; n < PER_CONVERSATION; n++)
    for (let c = 0; c < CONVERSATIONS; c++) events.push(event('acme', `k${c}`, n));
  return events;
}

/** Publishes in slices with pauses, so the interruption lands in the middle of the stream. */
async function publishPaced(
  h: NatsHandles,
  events: EventEnvelope[],
  slice: number,
  pauseMs: number,
  onSlice: (i: number) => Promise<void> | void,
) {
  for (let i = 0; i < events.length; i += slice) {
    await publishEvents(h, events.slice(i, i + slice));
    await onSlice(i / slice);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

async function verifyExactlyOnce(t: Test, h: NatsHandles) {
  for (let c = 0; c < CONVERSATIONS; c++) {
    const id = `k${c}`;
    const stored = await waitFor(
      `state of ${id}`,
      async () => {
        const s = await readState(h, 'acme', id);
        return s && s.state.events >= PER_CONVERSATION ? s : undefined;
      },
      60_000,
    );
    const expected = digestOf(Array.from({ length: PER_CONVERSATION }, (_, n) => `${id}-e${n}`));
    if (stored.state.events !== PER_CONVERSATION || stored.state.digest !== expected) {
      t.fail(
        `${id}: ${stored.state.events} events applied, digest ${stored.state.digest}, expected ${PER_CONVERSATION} and ${expected}`,
      );
      return;
    }
  }
  t.pass(`all ${CONVERSATIONS} conversations applied ${PER_CONVERSATION} events exactly once, in order`);
  // Give a straggling duplicate the chance to show up before counting.
  await new Promise((r) => setTimeout(r, 500));
  t.equal(
    await streamCount(h, 'ACTIONS'),
    CONVERSATIONS * PER_CONVERSATION,
    'exactly one action per event: no duplicate effect',
  );
}

t.test('runtime - kill -9 mid-stream, restart: every event applied exactly once, in order', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const h = await connect(t, nats.url);
  const dataDir = tempDir(t);
  const first = spawnParley(t, { natsUrl: nats.url, dataDir, partitions: PARTITIONS, roles: 'actors' });
  await first.waitForLine(/actors running/);

  let second: ReturnType<typeof spawnParley> | undefined;
  await publishPaced(h, workload(), 400, 50, async (slice) => {
    if (slice === 3) {
      first.proc.kill('SIGKILL');
      t.equal(await first.exited, null, 'the first process died by SIGKILL');
    }
    if (slice === 5) {
      second = spawnParley(t, { natsUrl: nats.url, dataDir, partitions: PARTITIONS, roles: 'actors' });
    }
  });
  await verifyExactlyOnce(t, h);
  const secondOwner = await childOwner(second!);
  const leases = await readLeases(h, PARTITIONS);
  t.ok(
    leases.every((l) => l?.owner === secondOwner && l.epoch >= 2),
    "the new process took the dead one's expired leases over",
  );
  second!.proc.kill('SIGTERM');
  t.equal(await second!.exited, 0, 'clean exit on SIGTERM');
});

t.test('runtime - SIGTERM during load drains without losing or duplicating anything', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const h = await connect(t, nats.url);
  const dataDir = tempDir(t);
  const first = spawnParley(t, { natsUrl: nats.url, dataDir, partitions: PARTITIONS, roles: 'actors' });
  await first.waitForLine(/actors running/);

  let second: ReturnType<typeof spawnParley> | undefined;
  await publishPaced(h, workload(), 400, 50, async (slice) => {
    if (slice === 3) first.proc.kill('SIGTERM');
    if (slice === 5) {
      t.equal(await first.exited, 0, 'the first process exited cleanly after draining');
      const firstOwner = await childOwner(first);
      const leases = await readLeases(h, PARTITIONS);
      t.ok(
        leases.every((l) => l?.owner === firstOwner && l.released === true),
        'it released every lease on the way out, so the next owner starts without a takeover wait',
      );
      second = spawnParley(t, { natsUrl: nats.url, dataDir, partitions: PARTITIONS, roles: 'actors' });
    }
  });
  await second!.waitForLine(/actors running/);
  await verifyExactlyOnce(t, h);
  const status = await h.jsm.consumers.info('EVENTS', 'actors-p00');
  t.equal(status.num_pending + status.num_ack_pending, 0, 'nothing left unacked or pending');
});
