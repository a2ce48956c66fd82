import t from 'tap';
import { DEFAULT_RECENT_IDS_LIMITS, RecentIds, recentIdKey } from '../../actors/recent-ids.js';
import { createDedupeKey } from '../../src/envelope/dedupe-key.js';

const H = 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);
const limits = { horizonMs: 24 * H, maxIds: 3 };
const key = (id: string, type = 'message.received') => recentIdKey({ id, type });

t.test('recent-ids - an id added is recognised within the horizon and forgotten after it', async (t) => {
  const r = new RecentIds();
  t.notOk(r.has(key('a'), T0, limits));
  r.add(key('a'), T0, limits);
  t.ok(r.has(key('a'), T0 + 23 * H, limits), 'within 24 h');
  t.ok(r.has(key('a'), T0 + 24 * H, limits), 'at the horizon itself');
  t.notOk(r.has(key('a'), T0 + 24 * H + 1000, limits), 'a second past it: new again');
  t.notOk(r.has(key('b'), T0, limits));
});

t.test('recent-ids - bounded by count (oldest first) and by age when adding', async (t) => {
  const r = new RecentIds();
  for (const [i, id] of ['a', 'b', 'c', 'd'].entries()) r.add(key(id), T0 + i * 1000, limits);
  t.equal(r.size, 3, 'at most maxIds');
  t.notOk(r.has(key('a'), T0 + 4000, limits), 'the oldest went first');
  t.ok(r.has(key('b'), T0 + 4000, limits));
  t.ok(r.has(key('d'), T0 + 4000, limits));
  r.add(key('e'), T0 + 25 * H, limits);
  t.equal(r.size, 1, 'everything past the horizon is dropped on the next add');
  const off = new RecentIds();
  off.add(key('a'), T0, { ...limits, maxIds: 0 });
  t.equal(off.size, 0, 'maxIds 0 remembers nothing');
});

t.test('recent-ids - the stored form round-trips: 12 bytes per id, absent when empty', async (t) => {
  const r = new RecentIds();
  t.equal(r.encode(), undefined);
  for (const [i, id] of ['x', 'y'].entries()) r.add(key(id), T0 + i * 1000, DEFAULT_RECENT_IDS_LIMITS);
  const bytes = r.encode()!;
  t.equal(bytes.length, 24);
  const back = RecentIds.decode(new Uint8Array(bytes));
  t.equal(back.size, 2);
  t.ok(back.has(key('x'), T0 + H, DEFAULT_RECENT_IDS_LIMITS));
  t.ok(back.has(key('y'), T0 + H, DEFAULT_RECENT_IDS_LIMITS));
  t.same(back.encode(), bytes, 'decode then encode gives the same bytes');
  t.equal(RecentIds.decode(undefined).size, 0, 'a state stored before the record existed');
});

t.test('recent-ids - the same applied sequence gives the same record (deterministic replay)', async (t) => {
  const run = () => {
    const r = new RecentIds();
    for (let i = 0; i < 50; i++) r.add(key(`e${i % 7}-${i}`), T0 + i * 3 * H, limits);
    return Buffer.from(r.encode()!).toString('hex');
  };
  t.equal(run(), run());
});

t.test('recent-ids - engine events and producer events never share a key', async (t) => {
  t.equal(key('abc'), key('abc', 'purchase.completed'), 'the id is the key whatever the producer type');
  t.not(key('wake.acme.c1.5', 'timer.wake'), key('wake.acme.c1.5'), 'a producer id cannot match a timer');
  t.not(key('o1.sent', 'action.sent'), key('o1.sent'), 'nor an action outcome');
  t.not(key('consent.acme.c1.1', 'admin.consent'), key('consent.acme.c1.1'), 'nor an operator event');
  t.match(key('abc'), /^[0-9a-f]{16}$/);
});

t.test('dedupe-key - tenant-scoped, and keyed so that nobody without the secret can forge it', async (t) => {
  const plain = createDedupeKey();
  t.equal(plain('acme', 'e1'), 'acme:e1', 'no secret: readable <tenant>:<id>');
  const keyed = createDedupeKey('a-long-enough-secret');
  const k = keyed('acme', 'e1');
  t.match(k, /^acme:e1:[A-Za-z0-9_-]{16}$/, 'readable prefix, MAC suffix');
  t.equal(keyed('acme', 'e1'), k, 'deterministic (retries dedupe)');
  t.not(keyed('globex', 'e1'), k, 'per tenant');
  t.not(createDedupeKey('another-long-secret')('acme', 'e1'), k, 'depends on the secret');
  t.not(keyed('acme', 'e1:x'), keyed('acme:e1', 'x'), 'tenant and id cannot be shifted into each other');
});
