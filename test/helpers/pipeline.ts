/**
 * A small independent check over what the simulated platform received for the echo rule: each accepted
 * webhook carries its triggering event in the body (`event.attributes.n`, `conversation`), so from the
 * receiver's log alone we can tell which events were never sent, which were sent under two action IDs,
 * which conversations received their sends out of event order, and how many webhook-ids arrived twice (a
 * resend after a crash: deduped by a Standard Webhooks receiver, never a second effect).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimSend } from '../../src/sim/sim-platform.js';
import { FIXTURE_RULES } from './parley.js';

/** The webhook signing secret of the pipeline tests' tenant `acme`. */
export const WEBHOOK_SECRET = 'whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ=';

/**
 * Writes `<dir>/parley.yaml` for child `parley start` processes: the fixture echo rule, tenant `acme` with a
 * webhook channel to `simUrl`, the given lease ttl. Returns the file's path.
 */
export function writeEchoConfig(
  dir: string,
  o: { natsUrl: string; simUrl: string; partitions: number; leaseTtlMs: number },
): string {
  const file = join(dir, 'parley.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      dataDir: dir,
      nats: { url: o.natsUrl },
      partitions: o.partitions,
      rules: FIXTURE_RULES,
      log: { level: 'info' },
      runtime: { leaseTtlMs: o.leaseTtlMs },
      tenants: {
        acme: { channels: { webhook: { url: `${o.simUrl}/hooks/acme`, secret: WEBHOOK_SECRET } } },
      },
    }),
  );
  return file;
}

export interface WebhookHistoryReport {
  lost: string[];
  duplicates: string[];
  orderViolations: string[];
  redeliveries: number;
  delivered: number;
}

export function checkWebhookHistory(
  accepted: Array<{ conversation: string; n: number }>,
  sends: SimSend[],
): WebhookHistoryReport {
  const firstByKey = new Map<string, { conversation: string; n: number }>();
  let redeliveries = 0;
  const perConversation = new Map<string, number[]>();
  const byEvent = new Map<string, Set<string>>();
  for (const s of [...sends].sort((a, b) => a.n - b.n)) {
    if (!s.key) continue;
    if (firstByKey.has(s.key)) {
      redeliveries++;
      continue;
    }
    const body = JSON.parse(s.body) as { conversation: string; event: { attributes: { n: number } } };
    const entry = { conversation: body.conversation, n: body.event.attributes.n };
    firstByKey.set(s.key, entry);
    const list = perConversation.get(entry.conversation) ?? [];
    list.push(entry.n);
    perConversation.set(entry.conversation, list);
    const ev = `${entry.conversation}#${entry.n}`;
    byEvent.set(ev, (byEvent.get(ev) ?? new Set()).add(s.key));
  }
  const lost = accepted
    .filter((a) => !byEvent.has(`${a.conversation}#${a.n}`))
    .map((a) => `${a.conversation}#${a.n}`);
  const duplicates = [...byEvent].filter(([, keys]) => keys.size > 1).map(([ev]) => ev);
  const orderViolations: string[] = [];
  for (const [conversation, ns] of perConversation) {
    for (let i = 1; i < ns.length; i++) {
      if (ns[i]! < ns[i - 1]!) {
        orderViolations.push(`${conversation}: ${ns.join(',')}`);
        break;
      }
    }
  }
  return { lost, duplicates, orderViolations, redeliveries, delivered: firstByKey.size };
}

/**
 * Waits until `target` distinct action IDs have arrived, for as long as deliveries keep coming (a machine
 * under load is slow, not stuck): fails only after `stallMs` without a new one, or at `capMs`. Resolves to
 * the distinct count reached, so the caller's checks can name what is missing.
 */
export async function waitForDeliveries(
  sends: () => SimSend[],
  target: number,
  stallMs = 30_000,
  capMs = 300_000,
): Promise<number> {
  const started = Date.now();
  let last = -1;
  let lastChange = started;
  for (;;) {
    const distinct = new Set(sends().map((s) => s.key)).size;
    if (distinct >= target) return distinct;
    const now = Date.now();
    if (distinct !== last) {
      last = distinct;
      lastChange = now;
    }
    if (now - lastChange > stallMs || now - started > capMs) return distinct;
    await new Promise((r) => setTimeout(r, 200));
  }
}
