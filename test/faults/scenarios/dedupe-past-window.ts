/**
 * The same ids sent again over HTTP after the stream's duplicate window has passed (shortened to 3 s): the
 * stream stores them again, the conversation actor must still recognise them (its recent-id record), so one
 * send per id and state counts each id once (issue 9 item 4).
 */
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { until } from '../wait.js';

const WINDOW_MS = 3000;

export const scenario: Scenario = {
  name: 'dedupe-past-window',
  description: '30 x 10 events over HTTP, all delivered; the same ids again after a 3 s duplicate window',
  tags: ['fast', 'dedupe'],
  timeoutMs: 120_000,
  run: () =>
    withHarness({ duplicateWindowMs: WINDOW_MS }, async (h) => {
      const load = plan({ tenant: TENANT, conversations: 30, perConversation: 10 });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, { batch: 5 });
      await h.settle(60_000);
      const lastAck = Math.max(...h.recorder.acked.map((e) => e.ackedAt));
      // The condition under test is the window's expiry itself: wait for the clock, bounded.
      await until(
        'the duplicate window to pass',
        () => Date.now() > lastAck + WINDOW_MS + 500,
        WINDOW_MS + 2000,
      );
      const before = h.recorder.acked.length;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, { batch: 5 });
      const stored = h.recorder.acked.slice(before).filter((e) => !e.duplicate).length;
      h.notes.push(`${stored} of the replayed events were stored again by the stream (window passed)`);
      // A second send of a replayed id would come before the sentinel's (per-conversation order).
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true });
    }),
};
