import t from 'tap';
import type { SnapshotView } from '../../actors/conversation/gate.js';
import { SafetySchema } from '../../src/config/safety-schema.js';
import { FencedError } from '../../src/errors/app-error.js';
import type { ActionMessage } from '../../src/runtime/outbound.js';
import type { Versioned, VersionedStore } from '../../src/runtime/ports.js';
import { formatScope, parseScope, scopeKey } from '../../src/safety/control.js';
import { LocalTime } from '../../src/safety/local-time.js';
import { SafetyPolicy } from '../../src/safety/policy.js';
import { SafetyPreSendGate } from '../../src/safety/pre-send-gate.js';
import { type CapCounter, TenantDailyCap } from '../../src/safety/tenant-daily-cap.js';

class Snap implements SnapshotView {
  readonly m = new Map<string, Record<string, unknown>>();
  get(k: string) {
    return this.m.get(k);
  }
}

class MemoryStore<T> implements VersionedStore<T> {
  readonly m = new Map<string, { value: T; revision: number }>();
  writes = 0;
  async load(key: string): Promise<Versioned<T>> {
    const e = this.m.get(key);
    return e ? { value: structuredClone(e.value), revision: e.revision } : { value: undefined, revision: 0 };
  }
  async save(key: string, value: T, revision: number): Promise<number> {
    const cur = this.m.get(key)?.revision ?? 0;
    if (cur !== revision) throw new FencedError(`${key}: revision ${revision} is stale`);
    this.writes++;
    this.m.set(key, { value: structuredClone(value), revision: cur + 1 });
    return cur + 1;
  }
}

const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);
const act = (extra: Partial<ActionMessage> = {}): ActionMessage => ({
  schema: 1,
  id: 'acme.c1.7.0',
  type: 'action',
  tenant: 'acme',
  conversation: 'c1',
  channel: 'webhook',
  rule: 'echo',
  template: 'ack',
  variables: {},
  event: { id: 'e7', type: 'message.received', attributes: {}, seq: 7 },
  decidedAt: new Date(NOW - 1000).toISOString(),
  ...extra,
});

function gate(safety: Record<string, unknown> = {}, tenantCap?: TenantDailyCap) {
  const control = new Snap();
  const consent = new Snap();
  let now = NOW;
  const g = new SafetyPreSendGate({
    policy: new SafetyPolicy(SafetySchema.parse(safety), {
      acme: { timeZone: 'America/New_York', safety: undefined },
    }),
    switches: { control, consent },
    tenantCap,
    clock: { now: () => now, sleep: async () => {} },
  });
  return { g, control, consent, at: (ms: number) => (now = ms) };
}

t.test('safety pre-send - consent, kill switches and pauses are re-checked at send time', async (t) => {
  const { g, control, consent } = gate();
  t.same(await g.check(act()), { allow: true });
  consent.m.set('acme.c1', { dnd: true });
  t.match(await g.check(act()), { allow: false, outcome: 'blocked', reason: 'dnd' });
  consent.m.set('acme.c1', { dnd: true, channels: { webhook: false } });
  t.same(await g.check(act()), { allow: true }, 'a channel-level allow overrides');
  consent.m.clear();
  control.m.set('rule.echo', { mode: 'pause' });
  t.match(await g.check(act()), { allow: false, outcome: 'deferred', reason: 'paused', retryAfterMs: 1000 });
  control.m.set('tenant.acme.channel.webhook', { mode: 'kill' });
  t.match(await g.check(act()), {
    allow: false,
    outcome: 'blocked',
    reason: 'killed:tenant.acme.channel.webhook',
  });
  control.m.clear();
  t.same(await g.check(act()), { allow: true }, 'resume');
});

t.test(
  'safety pre-send - long-paused actions are re-checked less often, and dropped past maxHoldMs',
  async (t) => {
    const { g, control, at } = gate({ pause: { recheckMs: 1000, maxHoldMs: 3_600_000 } });
    control.m.set('global', { mode: 'pause' });
    at(NOW + 600_000);
    t.match(
      await g.check(act()),
      { outcome: 'deferred', retryAfterMs: 30_050 },
      '5% of its age (ten minutes and a second)',
    );
    at(NOW + 7_200_000);
    t.match(await g.check(act()), { outcome: 'blocked', reason: 'paused-too-long' });
  },
);

t.test(
  'safety pre-send - escalation holds: open defers, closed blocks, replied drops what came before',
  async (t) => {
    const { g, control } = gate();
    control.m.set('escalation.acme.c1', { escalationId: 'acme.c1.3', status: 'open', since: '' });
    t.match(await g.check(act()), { outcome: 'deferred', reason: 'escalated' });
    t.same(await g.check(act({ rule: 'operator' })), { allow: true }, 'a human reply passes the hold');
    control.m.set('escalation.acme.c1', { escalationId: 'acme.c1.3', status: 'closed', since: '' });
    t.match(await g.check(act()), { outcome: 'blocked', reason: 'automation-closed' });
    control.m.set('escalation.acme.c1', {
      escalationId: 'acme.c1.3',
      status: 'replied',
      since: '',
      dropBefore: NOW - 500,
    });
    t.match(await g.check(act()), { outcome: 'blocked', reason: 'superseded-by-reply' });
    t.same(
      await g.check(act({ decidedAt: new Date(NOW).toISOString() })),
      { allow: true },
      'later actions pass',
    );
  },
);

t.test('safety pre-send - tenant daily cap, shared by processes, never exceeded', async (t) => {
  const store = new MemoryStore<CapCounter>();
  const a = new TenantDailyCap({ store, lease: 4 });
  const b = new TenantDailyCap({ store, lease: 4 });
  let ok = 0;
  for (let i = 0; i < 30; i++) {
    if (await (i % 2 ? a : b).take('acme', `act-${i}`, 10, NOW, 'UTC')) ok++;
  }
  t.ok(ok <= 10, `at most 10 (${ok})`);
  t.ok(ok >= 8, 'leases lose at most a partial batch per process');
  t.ok(store.writes <= 6, `leased in batches (${store.writes} CAS writes)`);
  t.equal(await a.take('acme', 'act-1', 10, NOW, 'UTC'), true, 'the same action reuses its unit');
  t.equal(await a.take('acme', 'next-day', 10, NOW + 86_400_000, 'UTC'), true, 'a new day starts over');
  t.equal(
    a.day(Date.parse('2026-01-06T03:00:00Z'), 'America/New_York'),
    '2026-01-05',
    "the tenant's calendar day",
  );

  const { g } = gate(
    { caps: { perTenantPerDay: 2 } },
    new TenantDailyCap({ store: new MemoryStore(), lease: 1 }),
  );
  t.same(await g.check(act({ id: 'x1' })), { allow: true });
  t.same(await g.check(act({ id: 'x2' })), { allow: true });
  t.match(await g.check(act({ id: 'x3' })), { outcome: 'blocked', reason: 'tenant-daily-cap' });
  t.same(await g.check(act({ id: 'x1' })), { allow: true }, 'a retried action is not counted twice');
});

t.test('safety control - scopes parse to keys and back', async (t) => {
  const cases: Array<[string, string]> = [
    ['global', 'global'],
    ['tenant:acme', 'tenant.acme'],
    ['rule:echo', 'rule.echo'],
    ['rule:acme/echo', 'tenant.acme.rule.echo'],
    ['channel:webhook', 'channel.webhook'],
    ['channel:acme/dm', 'tenant.acme.channel.dm'],
    ['conversation:acme/c1', 'tenant.acme.conversation.c1'],
  ];
  for (const [text, key] of cases) {
    t.equal(scopeKey(parseScope(text)), key, text);
    t.equal(formatScope(parseScope(text)), text);
  }
  for (const bad of ['', 'tenant:', 'conversation:acme', 'rule:a.b', 'planet:earth', 'global:x'])
    t.throws(() => parseScope(bad), { code: 'VALIDATION_FAILED' }, `"${bad}" is refused`);
});

t.test('safety local time - next allowed instant across midnight and DST', async (t) => {
  const lt = new LocalTime();
  const m = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  // 23:30 in Sydney (UTC+11 in January) is quiet for 22:00-07:00; it ends at 07:00 local = 20:00Z.
  const at = Date.parse('2026-01-05T12:30:00Z');
  t.equal(
    new Date(lt.nextOutside(at, 'Australia/Sydney', m('22:00'), m('07:00'))).toISOString(),
    '2026-01-05T20:00:00.000Z',
  );
  t.equal(lt.nextOutside(at, 'Europe/London', m('22:00'), m('07:00')), at, '12:30 in London is not quiet');
  // Fall back: 1 November 2026 in New York, 01:00-03:00 window; 01:30 happens twice.
  const fb = Date.parse('2026-11-01T05:30:00Z'); // 01:30 EDT
  t.equal(
    new Date(lt.nextOutside(fb, 'America/New_York', m('01:00'), m('03:00'))).toISOString(),
    '2026-11-01T08:00:00.000Z',
    '03:00 EST',
  );
  t.notOk(lt.isValidZone('Mars/Olympus'));
});

t.test('safety privacy - secrets are redacted from log lines', async (t) => {
  const { Writable } = await import('node:stream');
  const { createLogger } = await import('../../src/obs/logger.js');
  const lines: string[] = [];
  const log = createLogger({
    destination: new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  });
  log.info(
    {
      config: { safety: { model: { apiKey: 'sk-live-1' } }, nats: { pass: 'hunter2' } },
      headers: { authorization: 'Bearer t0k' },
    },
    'x',
  );
  await new Promise((r) => setTimeout(r, 20));
  const line = lines.join('');
  for (const secret of ['sk-live-1', 'hunter2', 't0k']) t.notOk(line.includes(secret), `${secret} redacted`);
  t.match(line, /\[redacted\]/);
});
