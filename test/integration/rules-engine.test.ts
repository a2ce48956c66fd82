import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { start } from '../../src/main.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { readEvents } from '../../src/nats/event-reader.js';
import { KvRuleRepository, RULES_BUCKET } from '../../src/nats/rules-bucket.js';
import { createLogger } from '../../src/obs/logger.js';
import { replayEvents } from '../../src/rules/replay.js';
import { pushRuleSet } from '../../src/rules/repository.js';
import { compileRuleSet, loadRuleSet, readRuleDir } from '../../src/rules/rule-set.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, publishEvents, readState, tempDir, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;
type Teardown = Parameters<typeof tempDir>[0];

function rulesDir(t: Teardown, files: Record<string, string>): string {
  const dir = join(tempDir(t, 'parley-rules-'), 'rules');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function startActors(t: Teardown, config: ReturnType<typeof testConfig>) {
  const parley = await start(config, {
    roles: ['actors'],
    logger: createLogger({ level: 'silent' }),
    drainMs: 5000,
  });
  t.teardown(() => parley.stop());
  return parley;
}

let n = 0;
function ev(conversation: string, type: string, attributes: Record<string, unknown> = {}): EventEnvelope {
  return {
    schema: 1,
    id: `${conversation}-${type}-${++n}`,
    type,
    tenant: 'acme',
    conversation,
    occurredAt: new Date().toISOString(),
    attributes,
  };
}

interface Action {
  conversation: string;
  template: string;
  rule: string;
  decision?: { rulesVersion: string; journey?: { version: string; step: string } };
}

async function actions(h: NatsHandles): Promise<Action[]> {
  const info = await h.jsm.streams.info('ACTIONS');
  const out: Action[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await h.jsm.streams.getMessage('ACTIONS', { seq }).catch(() => undefined);
    if (m) out.push(decodeMsgpack(m.data) as Action);
  }
  return out;
}

const templatesOf = async (h: NatsHandles, conversation: string) =>
  (await actions(h)).filter((a) => a.conversation === conversation).map((a) => a.template);

const WAIT_JOURNEY = `kind: journey
id: follow
entry: { on: lead.followed }
steps:
  - id: dm
    do: [{ channel: webhook, template: dm }]
    next: wait
  - id: wait
    wait: { for: message.received, timeout: 2s }
    on_event: thanks
    on_timeout: nudge
  - id: thanks
    do: [{ channel: webhook, template: thanks }]
    next: done
  - id: nudge
    do: [{ channel: webhook, template: nudge }]
    next: done
  - id: done
    exit: true
`;

t.test('journeys - a 2-second wait completes on both branches (reply, timeout)', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const config = testConfig(t, nats.url, PARTITIONS, { rules: rulesDir(t, { 'follow.yaml': WAIT_JOURNEY }) });
  await startActors(t, config);
  const h = await connect(t, nats.url);

  await publishEvents(h, [ev('replier', 'lead.followed'), ev('silent', 'lead.followed')]);
  await waitFor('both in the wait step', async () => {
    const a = await readState(h, 'acme', 'replier');
    const b = await readState(h, 'acme', 'silent');
    return (
      a?.state.automation?.journeys?.follow?.step === 'wait' &&
      b?.state.automation?.journeys?.follow?.step === 'wait'
    );
  });
  await publishEvents(h, [ev('replier', 'message.received', { text: 'hey!' })]);

  await waitFor('the reply branch', async () => (await templatesOf(h, 'replier')).includes('thanks'), 10_000);
  await waitFor('the timeout branch', async () => (await templatesOf(h, 'silent')).includes('nudge'), 10_000);
  await new Promise((r) => setTimeout(r, 2500));
  t.same(await templatesOf(h, 'replier'), ['dm', 'thanks'], 'replied: thanks, and the timeout never fires');
  t.same(await templatesOf(h, 'silent'), ['dm', 'nudge'], 'silent: nudged once after the timeout');
  const silent = await readState(h, 'acme', 'silent');
  t.equal(silent?.state.automation?.journeys, undefined, 'both runs exited');
  t.equal(silent?.state.automation?.history?.follow?.lastExit, 'completed');
  const wakes = (await h.jsm.streams.info('EVENTS', { subjects_filter: 'evt.*.acme.silent.timer.wake' }))
    .state.subjects;
  t.equal(
    Object.values(wakes ?? {}).reduce((a, b) => a + b, 0),
    1,
    'one wake-up event in EVENTS',
  );
});

t.test('timers - a timer due during a restart fires once after it', async (t) => {
  const nats = await startTestNats(t, { partitions: PARTITIONS });
  const dir = rulesDir(t, {
    'later.yaml': `kind: journey
id: later
entry: { on: lead.followed }
steps:
  - id: pause
    delay: 2s
    next: send
  - id: send
    do: [{ channel: webhook, template: after-delay }]
    next: done
  - id: done
    exit: true
`,
  });
  const config = testConfig(t, nats.url, PARTITIONS, { rules: dir });
  const h = await connect(t, nats.url);
  const first = await startActors(t, config);
  await publishEvents(h, [ev('restart', 'lead.followed')]);
  await waitFor(
    'the delay armed',
    async () => (await readState(h, 'acme', 'restart'))?.state.automation?.wake,
  );
  const kv = await h.kvm.open('parley-timers');
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  t.match(keys, [/^p\d+\.acme\.restart$/], 'indexed under its partition');
  await first.stop();
  t.same(await templatesOf(h, 'restart'), [], 'nothing sent before the stop');

  await new Promise((r) => setTimeout(r, 3000)); // the due time passes while nothing runs
  await startActors(t, config);
  await waitFor('fired after the restart', async () => (await templatesOf(h, 'restart')).length > 0, 10_000);
  await new Promise((r) => setTimeout(r, 1500));
  t.same(await templatesOf(h, 'restart'), ['after-delay'], 'exactly once');
  const keysAfter: string[] = [];
  for await (const k of await kv.keys()) keysAfter.push(k);
  t.same(keysAfter, [], 'the index entry is cleared once nothing is pending');
});

const V = (v: string) => ({
  'ping.yaml': `id: ping\non: ping\ndo: [{ channel: webhook, template: pong-${v} }]\n`,
  'later.yaml': `kind: journey
id: later
entry: { on: lead.followed }
steps:
  - id: pause
    delay: 2s
    next: send
  - id: send
    do: [{ channel: webhook, template: late-${v} }]
    next: done
  - id: done
    exit: true
`,
});

t.test(
  'hot reload - a push mid-stream switches new decisions; journeys in flight keep their version; replay is side-effect free',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const v1 = rulesDir(t, V('v1'));
    const v2 = rulesDir(t, V('v2'));
    const config = testConfig(t, nats.url, PARTITIONS, { rules: v1 });
    const parley = await startActors(t, config);
    const h = await connect(t, nats.url);
    const repo = new KvRuleRepository(await h.kvm.open(RULES_BUCKET));
    t.equal(parley.rules?.source, 'directory');

    await publishEvents(h, [ev('early', 'ping'), ev('early', 'lead.followed')]);
    await waitFor('v1 decided', async () => (await templatesOf(h, 'early')).includes('pong-v1'));
    await waitFor(
      'the early run is in flight',
      async () => (await readState(h, 'acme', 'early'))?.state.automation?.journeys?.later,
    );

    const pushed = await pushRuleSet(repo, readRuleDir(v2), { by: 'test' });
    t.equal(pushed.version, loadRuleSet(v2).version);
    await waitFor('workers switched', async () => parley.rules?.version === pushed.version, 10_000);

    await t.rejects(
      pushRuleSet(repo, [{ file: 'bad.yaml', text: 'id: bad\non: ping\ndo: []\n' }]),
      /invalid rules/,
      'a push that fails validation is refused',
    );
    t.equal((await repo.current())?.pointer.version, pushed.version, 'and changes nothing');

    await publishEvents(h, [ev('late', 'ping'), ev('late', 'lead.followed'), ev('early', 'ping')]);
    await waitFor(
      'both runs finished',
      async () => {
        const e = await templatesOf(h, 'early');
        const l = await templatesOf(h, 'late');
        return e.some((x) => x.startsWith('late-')) && l.some((x) => x.startsWith('late-'));
      },
      15_000,
    );
    t.same(
      await templatesOf(h, 'early'),
      ['pong-v1', 'pong-v2', 'late-v1'],
      'in flight before the push: finishes on v1; new pings use v2',
    );
    t.same(await templatesOf(h, 'late'), ['pong-v2', 'late-v2'], 'started after the push: v2');
    const decided = (await actions(h)).find((a) => a.template === 'late-v1')!;
    t.equal(
      decided.decision?.rulesVersion,
      loadRuleSet(v1).version,
      'every decision records its rule set version',
    );
    t.equal(
      decided.decision?.journey?.version,
      compileRuleSet(readRuleDir(v1)).journeys.get('later')!.version,
    );

    // Replay: twice, byte-identical, and nothing written anywhere.
    await new Promise((r) => setTimeout(r, 500));
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      // Lease renewals are the running worker's, not the replay's.
      for await (const s of h.jsm.streams.list())
        if (s.config.name !== 'KV_parley-leases') out[s.config.name] = [s.state.messages, s.state.last_seq];
      return out;
    };
    const before = await snapshot();
    const until = Date.now() + 5000; // fixed for both runs: timers due by then fire in the simulation
    const run = async () =>
      JSON.stringify(
        await replayEvents(readEvents(h, { tenant: 'acme' }), {
          candidate: loadRuleSet(v2),
          baseline: loadRuleSet(v1),
          until,
        }),
      );
    const a = await run();
    const b = await run();
    t.equal(a, b, 'byte-identical reports');
    t.same(await snapshot(), before, 'no stream or bucket got a message');
    const report = JSON.parse(a) as {
      decisions: Array<{ template: string }>;
      diff: { added: unknown[]; removed: unknown[] };
    };
    t.ok(
      report.decisions.some((d) => d.template === 'late-v2'),
      'reports what v2 would have done',
    );
    t.ok(report.diff.added.length > 0 && report.diff.removed.length > 0, 'and how it differs from v1');
  },
);
