import t from 'tap';
import type { ActorCell } from '../../src/runtime/actor-cell.js';
import { ActorRegistry } from '../../src/runtime/actor-registry.js';
import { InFlightGate } from '../../src/runtime/in-flight.js';
import { ManualClock } from '../helpers/fakes.js';

function fakeCell(key: string, clock: ManualClock, busy = false) {
  const cell = {
    key,
    partition: 0,
    lastActive: clock.now(),
    idle: !busy,
    depth: 0,
    killed: false,
    kill: () => {},
  };
  cell.kill = () => {
    cell.killed = true;
  };
  return cell as unknown as ActorCell<unknown>;
}

t.test('actor-registry - idle actors past passivateAfterMs are dropped, busy ones never', async (t) => {
  const clock = new ManualClock();
  const reg = new ActorRegistry<unknown>({ maxActors: 100, passivateAfterMs: 1000, clock });
  reg.touch('a', () => fakeCell('a', clock));
  reg.touch('b', () => fakeCell('b', clock, true));
  await clock.advance(500);
  reg.touch('c', () => fakeCell('c', clock));
  await clock.advance(600);
  t.equal(reg.passivate(), 1, 'a is idle and old; b is busy; c is recent');
  t.equal(reg.get('a'), undefined);
  t.ok(reg.get('b'));
  t.ok(reg.get('c'));
});

t.test(
  'actor-registry - never holds more than maxActors: least recently used idle ones go first',
  async (t) => {
    const clock = new ManualClock();
    const reg = new ActorRegistry<unknown>({ maxActors: 3, passivateAfterMs: 60_000, clock });
    for (const k of ['a', 'b', 'c']) reg.touch(k, () => fakeCell(k, clock));
    reg.touch('a', () => fakeCell('a', clock)); // a becomes most recent
    reg.touch('d', () => fakeCell('d', clock));
    t.equal(reg.size, 3);
    t.equal(reg.get('b'), undefined, 'b was least recently used');
    t.ok(reg.get('a'));
  },
);

t.test('actor-registry - dropping a partition kills its actors', async (t) => {
  const clock = new ManualClock();
  const reg = new ActorRegistry<unknown>({ maxActors: 10, passivateAfterMs: 60_000, clock });
  const cell = reg.touch('a', () => fakeCell('a', clock));
  reg.dropPartition(0);
  t.equal(reg.size, 0);
  t.equal((cell as unknown as { killed: boolean }).killed, true);
});

t.test('in-flight - acquire beyond the limit waits for a release', async (t) => {
  const gate = new InFlightGate(2);
  t.equal(gate.acquire(), undefined);
  t.equal(gate.acquire(), undefined);
  let third = false;
  const wait = gate.acquire();
  t.ok(wait instanceof Promise);
  void wait!.then(() => {
    third = true;
  });
  await Promise.resolve();
  t.equal(third, false);
  gate.release();
  await wait;
  t.equal(third, true);
  t.equal(gate.count, 2);
});
