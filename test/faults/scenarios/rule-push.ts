/**
 * Rule pushes during load: first a set with errors (a typo'd key; then a set naming a channel no tenant
 * configures) — refused, exit non-zero, the last good version stays live; then a valid hot reload (the echo
 * rule with another template). Every event is decided by exactly one version: one delivery per event, and per
 * conversation the old template never follows the new one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { driveHttp, plan, sentinels } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { runCli } from '../parley-process.js';

function ruleDir(base: string, name: string, text: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'echo.yaml'), text);
  return dir;
}

export const scenario: Scenario = {
  name: 'rule-push',
  description:
    'bad rule pushes refused under load (last good stays), then a valid hot reload; 40 x 20 over HTTP',
  tags: ['rules'],
  timeoutMs: 200_000,
  run: () =>
    withHarness({}, async (h) => {
      const failures: string[] = [];
      const config = h.processes[0]!.options.configFile;
      const load = plan({ tenant: TENANT, conversations: 40, perConversation: 20 });
      const driving = driveHttp(() => h.apiUrl(), TENANT_TOKEN, load, h.recorder, {
        concurrency: 8,
        budgetMs: 120_000,
      });

      await h.receiver.waitFor('150 deliveries', () => h.receiver.acceptedCount() >= 150, 60_000);
      const typo = ruleDir(
        h.dir,
        'rules-typo',
        'id: echo\nonn: message.received\ndo:\n  - channel: webhook\n    template: broken\n',
      );
      const unserved = ruleDir(
        h.dir,
        'rules-unserved',
        'id: echo\non: message.received\ndo:\n  - channel: platform-dm\n    template: broken\n',
      );
      for (const dir of [typo, unserved]) {
        const r = await runCli(['rules', 'push', dir, '--config', config]);
        h.faults++;
        if (r.code === 0) failures.push(`rules push ${dir} succeeded: ${r.output.slice(0, 300)}`);
        else if (!/echo\.yaml/.test(r.output))
          failures.push(`rules push ${dir}: the error names no file: ${r.output.slice(0, 300)}`);
      }

      await h.receiver.waitFor('300 deliveries', () => h.receiver.acceptedCount() >= 300, 60_000);
      const good = ruleDir(
        h.dir,
        'rules-v2',
        'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack-v2\n',
      );
      const pushedAt = Date.now();
      const r = await runCli(['rules', 'push', good, '--config', config]);
      if (r.code !== 0) failures.push(`valid rules push failed (${r.code}): ${r.output.slice(0, 300)}`);
      h.notes.push(`pushed v2 at ${h.receiver.acceptedCount()} deliveries`);

      await driving;
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, sentinels(load), h.recorder);
      await h.settle(60_000);

      const requests = h.receiver.requests().filter((q) => q.outcome === 'accepted');
      const templates = new Set(requests.map((q) => q.template));
      for (const t of templates)
        if (t !== 'ack' && t !== 'ack-v2')
          failures.push(`a delivery used template "${t}" (a refused push went live)`);
      if (!templates.has('ack-v2')) failures.push('no delivery used the pushed version (template ack-v2)');
      const early = requests.filter((q) => q.template === 'ack-v2' && q.receivedAt < pushedAt).length;
      if (early > 0) failures.push(`${early} deliveries used v2 before it was pushed`);
      const byConversation = new Map<string, string[]>();
      for (const q of [...requests].sort((a, b) => a.n - b.n)) {
        const list = byConversation.get(q.conversation) ?? [];
        list.push(q.template);
        byConversation.set(q.conversation, list);
      }
      for (const [conv, list] of byConversation) {
        const switched = list.indexOf('ack-v2');
        if (switched >= 0 && list.slice(switched).includes('ack'))
          failures.push(`${conv}: the old version decided an event after the new one did: ${list.join(',')}`);
      }
      return h.result({ redeliveryIsViolation: true, failures: failures.slice(0, 20) });
    }),
};
