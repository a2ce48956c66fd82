/**
 * Dead letters: a permanent 4xx goes straight to the DLQ with its reason and the provider's answer;
 * `parley dlq redrive` (the real CLI) delivers it exactly once, keeping its action ID; a second redrive of
 * an action that was sent sends nothing; `parley dlq drop` removes a dead letter.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { headers } from '@nats-io/transport-node';
import t from 'tap';
import { HDR_REDRIVE } from '../../src/connectors/messages.js';
import { encode } from '../../src/envelope/codec.js';
import {
  action,
  actionSubjectOf,
  deadLetters,
  outcomeEvents,
  publishActions,
  startSim,
} from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, ROOT, startParley, tempDir, testConfig, waitFor } from '../helpers/parley.js';

const run = promisify(execFile);

async function parley(configFile: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args, '--json'],
    {
      cwd: ROOT,
      env: { ...process.env, PARLEY_CONFIG: configFile },
    },
  );
  return JSON.parse(stdout);
}

t.test(
  'connectors - a permanent 4xx is dead-lettered with its reason; dlq redrive delivers it once',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 4 });
    const sim = await startSim(t);
    sim.addFault({
      channel: 'platform-dm',
      status: 400,
      count: 1,
      message: 'recipient does not accept messages',
    });
    const config = testConfig(t, nats.url, 4, {
      tenants: { acme: { channels: { 'platform-dm': { url: sim.url, token: 'sim-token' } } } },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const cliConfig = join(tempDir(t), 'parley.yaml');
    writeFileSync(cliConfig, JSON.stringify({ nats: { url: nats.url } }));

    const first = action('acme', 'd1', 1, 'platform-dm');
    const second = action('acme', 'd1', 2, 'platform-dm');
    await publishActions(h, [first, second], 4);

    const [dead] = await waitFor('the dead letter', async () => {
      const found = await deadLetters(h, 'dlq.platform-dm.acme');
      return found.length > 0 ? found : undefined;
    });
    t.equal(dead!.reason, 'rejected', 'reason: permanently rejected');
    t.match(
      dead!.error,
      /HTTP 400.*recipient does not accept messages/,
      'the provider answer is the last error',
    );
    t.equal(dead!.attempts, 1, 'no retry for a permanent error');
    t.equal((dead!.action as { id: string }).id, first.id);
    await waitFor('the second action', async () => sim.stats().accepted >= 1);
    t.equal(
      sim.sends()[0]!.key,
      second.id,
      'the next action of the conversation was not held by a dead letter',
    );
    const failed = await waitFor('action.failed', async () => {
      const found = await outcomeEvents(h, 'action.failed');
      return found.length > 0 ? found : undefined;
    });
    t.equal(
      (failed[0]!.attributes as Record<string, unknown>).outcome,
      'dead_lettered',
      'action.failed outcome published',
    );

    const listed = (await parley(cliConfig, 'dlq', 'list', '--channel', 'platform-dm')) as Array<
      Record<string, unknown>
    >;
    t.equal(listed.length, 1, 'dlq list shows it');
    t.equal(listed[0]!.action, first.id);
    const shown = (await parley(cliConfig, 'dlq', 'show', String(dead!.seq))) as Record<string, unknown>;
    t.equal((shown.payload as Record<string, unknown>).id, first.id, 'dlq show decodes the original action');

    const redriven = (await parley(cliConfig, 'dlq', 'redrive', String(dead!.seq))) as Array<
      Record<string, unknown>
    >;
    t.equal(redriven[0]!.id, first.id, 'redrive keeps the action ID');
    await waitFor('the redriven delivery', async () => sim.stats().accepted >= 2);
    t.equal((await deadLetters(h)).length, 0, 'the DLQ is empty after the redrive');
    const delivered = sim.sends().find((s) => s.key === first.id);
    t.ok(delivered, 'the redriven action was delivered under its own ID');
    t.equal(sim.requestCount(first.id), 2, 'one rejected request, one accepted: nothing else');

    // An operator redrives the same action again: its record says sent, so nothing is sent.
    const hdrs = headers();
    hdrs.set('Content-Type', 'application/msgpack');
    hdrs.set(HDR_REDRIVE, '999');
    await h.js.publish(actionSubjectOf(first, 4), encode(first), {
      msgID: `${first.id}.redrive.999`,
      headers: hdrs,
    });
    await new Promise((r) => setTimeout(r, 1000));
    t.equal(sim.requestCount(first.id), 2, 'a second redrive of a sent action sends nothing');
    t.equal(sim.stats().duplicates, 0, 'no duplicate');

    // A dead letter nobody wants back: dropped.
    await publishActions(h, [action('nobody', 'x1', 1, 'platform-dm')], 4);
    const [orphan] = await waitFor('the unconfigured tenant dead letter', async () => {
      const found = await deadLetters(h, 'dlq.platform-dm.nobody');
      return found.length > 0 ? found : undefined;
    });
    t.equal(orphan!.reason, 'channel_not_configured');
    await parley(cliConfig, 'dlq', 'drop', String(orphan!.seq));
    // (Its action.failed outcome, an event of a tenant this deployment does not serve, is dead-lettered on
    // dlq.events.nobody by the actors; only the action's dead letter is under test here.)
    t.equal((await deadLetters(h, 'dlq.platform-dm.>')).length, 0, 'dlq drop removed it');
  },
);
