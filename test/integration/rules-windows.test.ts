/**
 * Debounce, digest and cancel_on end to end: a real nats-server, `parley start` in a child process (so it
 * can be killed with SIGKILL), the simulated platform receiving the webhooks. The rules are
 * test/fixtures/rules-windows. Nothing waits on a fixed sleep: each check waits for a send, then sends a
 * marker event through the same conversation and waits for the marker's send, which comes after anything
 * the events before it made (one conversation's sends are delivered in order), and reads the state to see
 * that nothing is left pending.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeMsgpack } from '../../src/envelope/codec.js';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import type { NatsHandles } from '../../src/nats/connection.js';
import { readEvents } from '../../src/nats/event-reader.js';
import { replayEvents } from '../../src/rules/replay.js';
import { loadRuleSet } from '../../src/rules/rule-set.js';
import type { SimPlatform } from '../../src/sim/sim-platform.js';
import { deadLetters, startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, publishEvents, ROOT, readState, spawnCli, tempDir, waitFor } from '../helpers/parley.js';
import { WEBHOOK_SECRET } from '../helpers/pipeline.js';

const PARTITIONS = 4;
const RULES = join(ROOT, 'test/fixtures/rules-windows');

interface Body {
  conversation: string;
  rule: string;
  template: string;
  action: string;
  variables: Record<string, unknown>;
  event: { id: string; type: string; attributes: Record<string, unknown> };
  digest?: { count: number; events: Array<{ id: string; type: string; occurredAt: string }> };
  decision?: { rulesVersion: string; variant?: string };
}

/** Distinct deliveries (one per action id: a resend under the same webhook-id is the receiver's duplicate). */
function received(sim: SimPlatform, conversation: string, rule?: string): Body[] {
  const seen = new Set<string>();
  const out: Body[] = [];
  for (const s of sim.sends()) {
    if (!s.key || seen.has(s.key)) continue;
    const body = JSON.parse(s.body) as Body;
    if (body.conversation !== conversation || (rule && body.rule !== rule)) continue;
    seen.add(s.key);
    out.push(body);
  }
  return out;
}

let n = 0;
function ev(conversation: string, type: string, attributes: Record<string, unknown> = {}): EventEnvelope {
  n++;
  return {
    schema: 1,
    id: `${conversation}-${type}-${n}`,
    type,
    tenant: 'acme',
    conversation,
    occurredAt: new Date().toISOString(),
    attributes: { n, ...attributes },
  };
}

async function audits(h: NatsHandles, kind: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let seq = 1;
  for (;;) {
    const m = await h.jsm.direct.getMessage('AUDIT', { seq, next_by_subj: `audit.${kind}.>` });
    if (!m) break;
    out.push(decodeMsgpack(m.data) as Record<string, unknown>);
    seq = m.seq + 1;
  }
  return out;
}

t.test(
  'rules windows - debounce, digest and cancel_on through a real process, a crash and replay',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const sim = await startSim(t, { perSecond: 1_000_000, burst: 1_000_000 });
    const h = await connect(t, nats.url);
    const dir = tempDir(t, 'parley-windows-');
    const file = join(dir, 'parley.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: dir,
        nats: { url: nats.url },
        partitions: PARTITIONS,
        rules: RULES,
        log: { level: 'info' },
        runtime: { leaseTtlMs: 3000 },
        tenants: {
          acme: { channels: { webhook: { url: `${sim.url}/hooks/acme`, secret: WEBHOOK_SECRET } } },
        },
      }),
    );
    const startParley = () => spawnCli(t, ['start', '--roles', 'actors,connectors'], { PARLEY_CONFIG: file });
    /** Sends a marker through `conversation` and waits for its send: everything before it has been sent. */
    const settle = async (conversation: string) => {
      const marker = ev(conversation, 'test.marker');
      await publishEvents(h, [marker]);
      await waitFor(
        `the marker of ${conversation}`,
        async () => received(sim, conversation, 'marker').some((b) => b.event.id === marker.id),
        60_000,
      );
    };
    const pending = async (conversation: string) =>
      (await readState(h, 'acme', conversation))?.state.automation;

    let parley = startParley();
    await parley.waitForLine(/actors running/);

    await t.test('20 messages in one second: one debounced send, carrying the last', async (t) => {
      const burst = Array.from({ length: 20 }, () => ev('burst', 'message.received'));
      for (const e of burst) {
        await publishEvents(h, [e]);
        await new Promise((r) => setTimeout(r, 50)); // a burst over about a second
      }
      await waitFor(
        'the debounced send',
        async () => received(sim, 'burst', 'burst-reply').length > 0,
        60_000,
      );
      await settle('burst');
      const sends = received(sim, 'burst', 'burst-reply');
      t.equal(sends.length, 1, 'one send for the burst');
      t.equal(sends[0]!.event.id, burst[19]!.id, 'carrying the last message as event');
      t.equal(sends[0]!.variables.n, burst[19]!.attributes.n);
      t.match(sends[0]!.decision, { rulesVersion: /^[0-9a-f]{12}$/ }, 'the body names the rules version');
      t.equal((await pending('burst'))?.windows, undefined, 'no window left open');
    });

    await t.test('5 comments: one digest of 5, each once', async (t) => {
      const comments = Array.from({ length: 5 }, () => ev('comments', 'comment.created'));
      await publishEvents(h, comments);
      await waitFor(
        'the digest',
        async () => received(sim, 'comments', 'comments-digest').length > 0,
        60_000,
      );
      await settle('comments');
      const sends = received(sim, 'comments', 'comments-digest');
      t.equal(sends.length, 1, 'one digest');
      t.equal(sends[0]!.digest?.count, 5);
      t.same(
        sends[0]!.digest?.events.map((e) => e.id),
        comments.map((e) => e.id),
        'every comment exactly once, in order',
      );
      t.equal(sends[0]!.variables.count, 5, 'variables address the digest');
    });

    await t.test(
      'a purchase cancels the pending reminder; a reminder without one is sent once',
      async (t) => {
        await publishEvents(h, [
          ev('cart-bought', 'cart.abandoned', { cart: 'A' }),
          ev('cart-left', 'cart.abandoned', { cart: 'A' }),
        ]);
        await publishEvents(h, [ev('cart-bought', 'purchase.completed', { cart: 'A', amount: 10 })]);
        await waitFor(
          'the reminder',
          async () => received(sim, 'cart-left', 'cart-reminder').length > 0,
          60_000,
        );
        await settle('cart-left');
        await settle('cart-bought');
        t.equal(
          received(sim, 'cart-left', 'cart-reminder').length,
          1,
          'the reminder without a purchase, once',
        );
        t.same(received(sim, 'cart-bought', 'cart-reminder'), [], 'no reminder after the purchase');
        t.equal((await pending('cart-left'))?.timers, undefined, 'nothing pending');
        t.equal((await pending('cart-bought'))?.timers, undefined, 'the cancelled reminder is gone');
        const cancels = (await audits(h, 'cancel')).filter((a) => a.conversation === 'cart-bought');
        t.match(
          cancels,
          [{ rule: 'cart-reminder', outcome: 'cancelled', pending: 'delay' }],
          'the cancel is audited',
        );
      },
    );

    await t.test('a digest window survives kill -9 and a restart: sent once, each event once', async (t) => {
      const first = Array.from({ length: 3 }, () => ev('crash', 'review.created'));
      await publishEvents(h, first);
      await waitFor(
        'three reviews in the open window',
        async () => (await pending('crash'))?.windows?.['reviews-digest']?.events.length === 3,
        30_000,
      );
      parley.proc.kill('SIGKILL');
      t.equal(await parley.exited, null, 'killed by SIGKILL mid-window');
      const rest = Array.from({ length: 2 }, () => ev('crash', 'review.created'));
      await publishEvents(h, rest);
      parley = startParley();
      await parley.waitForLine(/actors running/);
      await waitFor(
        'the digest after the restart',
        async () => received(sim, 'crash', 'reviews-digest').length > 0,
        90_000,
      );
      await settle('crash');
      const sends = received(sim, 'crash', 'reviews-digest');
      t.equal(sends.length, 1, 'one digest');
      t.same(
        sends[0]!.digest?.events.map((e) => e.id),
        [...first, ...rest].map((e) => e.id),
        'the five reviews, each once, in order',
      );
      t.equal((await pending('crash'))?.windows, undefined);
    });

    await t.test('replay of the recorded events gives the same decisions', async (t) => {
      const report = await replayEvents(readEvents(h, { tenant: 'acme' }), {
        candidate: loadRuleSet(RULES),
        until: Date.now(),
      });
      const replayed = report.decisions
        .filter((d) => d.rule !== 'marker')
        .map((d) => `${d.conversation} ${d.rule} ${d.digest ?? '-'} ${d.lastEvent ?? '-'}`)
        .sort();
      const sent = ['burst', 'comments', 'cart-bought', 'cart-left', 'crash']
        .flatMap((c) => received(sim, c))
        .filter((b) => b.rule !== 'marker')
        .map(
          (b) =>
            `${b.conversation} ${b.rule} ${b.digest?.count ?? '-'} ${b.rule === 'cart-reminder' ? '-' : b.event.id}`,
        )
        .sort();
      t.same(replayed, sent);
      t.equal(replayed.length, 4, 'the burst reply, two digests and one reminder');
    });

    t.same(await deadLetters(h), [], 'nothing dead-lettered');
    parley.proc.kill('SIGTERM');
    t.equal(await parley.exited, 0, 'clean exit');
  },
);
