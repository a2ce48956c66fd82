/**
 * Pure pieces of the connectors: the retry policy, HTTP answer translation, Retry-After parsing, webhook
 * signing (checked against the standardwebhooks package), the execution-record state machine.
 */
import { Webhook } from 'standardwebhooks';
import t from 'tap';
import { checkHttpAnswer, retryAfterMs } from '../../src/connectors/channels/http.js';
import { signWebhook, webhookBody } from '../../src/connectors/channels/webhook.js';
import { type ExecutionRecord, ExecutionStore } from '../../src/connectors/executions.js';
import { decideRetry } from '../../src/connectors/retry-policy.js';
import { FencedError, RetryableError, TerminalError } from '../../src/errors/app-error.js';
import type { Versioned, VersionedStore } from '../../src/runtime/ports.js';
import { action } from '../helpers/connectors.js';

const settings = { maxAttempts: 3, retryInitialMs: 100, retryMaxMs: 10_000 };

t.test(
  'connectors - retry policy: terminal dead-letters, retryable honours Retry-After, attempts run out',
  async (t) => {
    t.match(decideRetry(new TerminalError('400', { code: 'HTTP_400' }), 1, settings), {
      type: 'dead-letter',
      reason: 'rejected',
      code: 'HTTP_400',
    });
    t.match(
      decideRetry(new RetryableError('503', { code: 'HTTP_503', retryAfterMs: 2000 }), 1, settings, () => 0),
      { type: 'retry', delayMs: 2000, counted: true },
    );
    const backoff = decideRetry(new Error('boom'), 2, settings, () => 1);
    t.match(
      backoff,
      { type: 'retry', delayMs: 200, code: 'UNKNOWN' },
      'unknown errors back off exponentially',
    );
    t.match(
      decideRetry(new Error('boom'), 3, settings),
      { type: 'dead-letter', reason: 'max_attempts' },
      'after maxAttempts',
    );
    t.match(
      decideRetry(
        new RetryableError('429', { code: 'RATE_LIMITED', retryAfterMs: 500 }),
        99,
        settings,
        () => 0,
      ),
      { type: 'retry', delayMs: 500, counted: false },
      'rate limiting never uses up attempts',
    );
    t.equal(
      (decideRetry(new RetryableError('x', { retryAfterMs: 10 ** 9 }), 1, settings) as { delayMs: number })
        .delayMs,
      10_000,
      'capped at retryMaxMs',
    );
  },
);

t.test('connectors - HTTP answers translate at the edge', async (t) => {
  const answer = (status: number, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers(headers),
    body: 'x',
  });
  t.doesNotThrow(() => checkHttpAnswer('p', answer(201)));
  t.throws(() => checkHttpAnswer('p', answer(400)), TerminalError);
  t.throws(() => checkHttpAnswer('p', answer(404)), TerminalError);
  t.throws(() => checkHttpAnswer('p', answer(503)), RetryableError);
  t.throws(() => checkHttpAnswer('p', answer(408)), RetryableError);
  try {
    checkHttpAnswer('p', answer(429, { 'retry-after': '3' }));
    t.fail('429 must throw');
  } catch (err) {
    t.equal((err as RetryableError).retryAfterMs, 3000, '429 carries Retry-After');
    t.equal((err as RetryableError).code, 'RATE_LIMITED');
  }
  t.equal(
    retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '1' })),
    250,
    'retry-after-ms wins',
  );
  t.equal(
    retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000),
    6_000,
    'HTTP-date',
  );
  t.equal(retryAfterMs(new Headers({})), undefined);
});

t.test('connectors - webhook signatures match the standardwebhooks package', async (t) => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const a = action('acme', 'c1', 7);
  const body = webhookBody(a);
  const ts = Math.floor(Date.now() / 1000);
  const signature = signWebhook(secret, a.id, ts, body);
  const wh = new Webhook(secret);
  t.equal(
    signature,
    wh.sign(a.id, new Date(ts * 1000), body),
    'same signature as the reference implementation',
  );
  t.ok(
    wh.verify(body, { 'webhook-id': a.id, 'webhook-timestamp': String(ts), 'webhook-signature': signature }),
  );
  t.same(JSON.parse(body), {
    type: 'action',
    tenant: 'acme',
    conversation: 'c1',
    rule: 'test-rule',
    action: a.id,
    channel: 'webhook',
    template: 'ack',
    variables: { n: 7 },
    event: { id: 'c1-e7', type: 'message.received', attributes: { n: 7 } },
    decidedAt: a.decidedAt,
  });
});

class Store implements VersionedStore<ExecutionRecord> {
  readonly m = new Map<string, { value: ExecutionRecord; revision: number }>();
  async load(key: string): Promise<Versioned<ExecutionRecord>> {
    const e = this.m.get(key);
    return e ? { value: e.value, revision: e.revision } : { value: undefined, revision: 0 };
  }
  async save(key: string, value: ExecutionRecord, revision: number): Promise<number> {
    const current = this.m.get(key)?.revision ?? 0;
    if (current !== revision) throw new FencedError('conflict');
    this.m.set(key, { value, revision: current + 1 });
    return current + 1;
  }
}

t.test('connectors - execution records: claim once, sent is final, stale claims and redrives', async (t) => {
  const store = new ExecutionStore(new Store());
  const req = { actionId: 'a.b.1.0', channel: 'webhook', owner: 'p1', now: 1000, claimTtlMs: 5000 };
  const first = await store.claim(req);
  t.equal(first.type, 'claimed', 'the first claim wins');
  t.match(
    await store.claim({ ...req, now: 2000 }),
    { type: 'busy', retryAfterMs: 4000 },
    'a young claim of our own is a send in progress: busy',
  );
  t.equal(
    (await store.claim({ ...req, now: 6000 })).type,
    'stale',
    'an old claim of our own without outcome is stale',
  );
  const stale = await store.claim({ ...req, owner: 'p2', now: 2500 });
  t.equal(stale.type, 'stale', "another owner's claim is stale at once: it lost the partition mid-send");
  if (first.type !== 'claimed' || stale.type !== 'stale') return;
  const taken = await store.takeOver(req.actionId, stale, 'p2', 7000);
  t.equal(taken.record.attempt, 2);
  await t.rejects(
    store.markSent(req.actionId, first, 'd1', 7050),
    FencedError,
    'the old holder cannot write after a takeover',
  );
  await store.markSent(req.actionId, taken, 'd2', 7100);
  t.match(
    await store.claim({ ...req, now: 8000 }),
    { type: 'sent', record: { deliveryId: 'd2' } },
    'sent is final',
  );
  t.match(await store.claim({ ...req, now: 8000, redrive: 5 }), { type: 'sent' }, 'even for a redrive');

  const other = { ...req, actionId: 'a.b.2.0' };
  const c = await store.claim(other);
  if (c.type !== 'claimed') return t.fail('claim');
  await store.markDead(other.actionId, c, 'rejected', 'HTTP_400');
  t.equal((await store.claim(other)).type, 'dead', 'dead stays dead without a redrive');
  const reopened = await store.claim({ ...other, redrive: 9 });
  t.match(reopened, { type: 'claimed', record: { attempt: 1, redrive: 9 } }, 'a redrive re-opens it once');
  if (reopened.type !== 'claimed') return;
  await store.markRetry(other.actionId, reopened, 'HTTP_503', true);
  t.match(
    await store.claim({ ...other, redrive: 9 }),
    { type: 'claimed', record: { attempt: 2 } },
    'the same redrive continues counting',
  );
});
