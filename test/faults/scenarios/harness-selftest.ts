/**
 * The harness checks itself: the receiver must flag a forged or tampered signature, dedupe a repeated
 * webhook-id, and apply each fault mode to exactly 1 request in N; the checker must then fail on that
 * history. No NATS, no Parley: a harness that cannot fail is a defect.
 */
import { Webhook } from 'standardwebhooks';
import { check } from '../checker.js';
import { assertionsOnly, type Scenario } from '../harness.js';
import { WEBHOOK_SECRET } from '../parley-process.js';
import { WebhookReceiver } from '../receiver.js';

async function send(url: string, id: string, body: string, secret = WEBHOOK_SECRET): Promise<number> {
  const ts = new Date();
  const signature = new Webhook(secret).sign(id, ts, body);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      signal: AbortSignal.timeout(2000),
    });
    return res.status;
  } catch {
    return 0;
  }
}

const body = (n: number) =>
  JSON.stringify({ tenant: 'acme', conversation: 'c0', event: { id: `c0-e${n}`, attributes: { n } } });

export const scenario: Scenario = {
  name: 'harness-selftest',
  description:
    'receiver flags forged signatures, dedupes webhook-ids, injects each fault 1 in N; checker fails',
  tags: ['fast', 'harness'],
  timeoutMs: 60_000,
  run: async () => {
    const failures: string[] = [];
    const r = new WebhookReceiver({ secret: WEBHOOK_SECRET });
    const url = await r.start();
    try {
      if ((await send(url, 'a0', body(0))) !== 200) failures.push('a valid delivery was not accepted');
      if ((await send(url, 'a0', body(0))) !== 200)
        failures.push('a repeated webhook-id was not answered 200');
      const other = `whsec_${Buffer.from('some-other-secret-key-123').toString('base64')}`;
      if ((await send(url, 'a1', body(1), other)) === 200) failures.push('a forged signature was accepted');
      const outcomes = r.requests().map((q) => q.outcome);
      if (outcomes.join(',') !== 'accepted,redelivery,invalid')
        failures.push(`outcomes ${outcomes.join(',')}`);

      for (const [mode, want] of [
        [{ kind: 'fail', every: 3, status: 503 }, 503],
        [{ kind: 'throttle', every: 3, retryAfterSeconds: 1 }, 429],
        [{ kind: 'reset', every: 3 }, 0],
        [{ kind: 'hang', every: 3, holdMs: 3000 }, 0],
      ] as const) {
        r.setFault(mode);
        const statuses: number[] = [];
        for (let i = 0; i < 6; i++) statuses.push(await send(url, `${mode.kind}-${i}`, body(10 + i)));
        const faulted = statuses.filter((s) => s === want).length;
        if (faulted !== 2 || statuses.filter((s) => s === 200).length !== 4)
          failures.push(`${mode.kind}: statuses ${statuses.join(',')} (want 2 x ${want} in 6)`);
      }
      r.setFault({ kind: 'none' });

      const report = check({
        acked: [{ tenant: 'acme', conversation: 'c0', id: 'c0-e0', n: 0, ackedAt: 0, path: 'http' }],
        indeterminate: Array.from({ length: 20 }, (_, n) => ({
          tenant: 'acme',
          conversation: 'c0',
          id: `c0-e${n}`,
          n,
        })),
        deliveries: r.deliveries(),
      });
      const kinds = new Set(report.violations.map((v) => v.kind));
      if (!kinds.has('bad-signature')) failures.push('the checker did not flag the forged signature');
      if (report.summary.redeliveries !== 1)
        failures.push(`redeliveries ${report.summary.redeliveries}, want 1`);
    } finally {
      await r.stop();
    }
    return assertionsOnly(failures, 0, [`${r.faultsInjected} faults injected`]);
  },
};
