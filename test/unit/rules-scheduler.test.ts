import t from 'tap';
import { conversationActor } from '../../actors/conversation/conversation-actor.js';
import type { ConversationState } from '../../actors/conversation/state.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { createLogger } from '../../src/obs/logger.js';
import { compileRuleSet } from '../../src/rules/rule-set.js';
import { dueRun, Scheduler } from '../../src/rules/scheduler.js';

t.test('scheduler - cron runs in the tenant time zone', async (t) => {
  // Monday 2026-01-05 10:00 in Paris is 09:00 UTC.
  const now = Date.parse('2026-01-05T09:30:00Z');
  t.equal(dueRun('0 10 * * 1', 'Europe/Paris', now - 3_600_000, now), Date.parse('2026-01-05T09:00:00Z'));
  t.equal(dueRun('0 10 * * 1', 'UTC', now - 3_600_000, now), undefined, 'not yet 10:00 in UTC');
});

t.test('scheduler - a due run publishes to the segment, batched and rate-limited, once', async (t) => {
  const rules = compileRuleSet([
    {
      file: 's.yaml',
      text: 'kind: segments\nsegments:\n  quiet: { /profile/lastInboundAt: { lt: now-14d } }\n',
    },
    {
      file: 'w.yaml',
      text: 'kind: schedule\nid: weekly\ncron: "0 10 * * 1"\nsegment: quiet\nevent: campaign.weekly\nbatch: { size: 2, per_second: 4 }\n',
    },
  ]);
  const states: ConversationState[] = ['a', 'b', 'c', 'd'].map((c, i) => ({
    ...conversationActor.initial('acme', c),
    profile: { lastInboundAt: i < 3 ? '2025-12-01T00:00:00Z' : '2026-01-04T00:00:00Z' },
  }));
  const published: EventEnvelope[] = [];
  const sleeps: number[] = [];
  const runs = new Map<string, number>();
  const scheduler = new Scheduler({
    rules: () => rules,
    tenants: { acme: 'UTC' },
    log: createLogger({ level: 'silent' }),
    now: () => Date.parse('2026-01-05T10:00:30Z'),
    ports: {
      conversations: async function* () {
        yield* states;
      },
      publish: async (e) => void published.push(e),
      lastRun: async (k) => runs.get(k),
      recordRun: async (k, at) => void runs.set(k, at),
      sleep: async (ms) => void sleeps.push(ms),
    },
  });
  t.equal(await scheduler.tick(), 3, 'the three quiet conversations');
  t.same(
    published.map((e) => e.conversation),
    ['a', 'b', 'c'],
  );
  t.equal(published[0]!.id, `sched.weekly.${Date.parse('2026-01-05T10:00:00Z')}.a`, 'deterministic ids');
  t.same(sleeps, [500, 500], 'batches of 2 at 4/s');
  t.equal(await scheduler.tick(), 0, 'the run is recorded: not fired twice');
});
