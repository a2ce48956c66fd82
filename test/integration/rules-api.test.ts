/**
 * POST /v1/evaluate and /v1/trigger through a real Parley (actors + ingest) over real HTTP: evaluate
 * answers with the current rules' decisions and writes nothing; trigger is admin-only, publishes one
 * admin.trigger event and an operator audit record.
 */
import t from 'tap';
import { type Parley, start } from '../../src/main.js';
import { createLogger } from '../../src/obs/logger.js';
import { ACME_TOKEN, ADMIN_TOKEN, httpTestConfig } from '../helpers/http-fakes.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, streamCount, testConfig, waitFor } from '../helpers/parley.js';

const PARTITIONS = 4;

// biome-ignore lint/suspicious/noExplicitAny: JSON response bodies, asserted field by field
type Json = any;

async function call(
  base: string,
  path: string,
  body: unknown,
  token: string,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

t.test(
  'rules-api - evaluate answers what the rules would decide and writes nothing; trigger is audited',
  async (t) => {
    const nats = await startTestNats(t, { partitions: PARTITIONS });
    const auth = httpTestConfig();
    const config = testConfig(t, nats.url, PARTITIONS, { tenants: auth.tenants, admin: auth.admin });
    const parley: Parley = await start(config, {
      roles: ['actors', 'ingest'],
      logger: createLogger({ level: 'silent' }),
      drainMs: 5000,
    });
    t.teardown(() => parley.stop());
    const base = parley.ingest!.url;
    const h = await connect(t, nats.url);

    const before = { events: await streamCount(h, 'EVENTS'), actions: await streamCount(h, 'ACTIONS') };
    const evaluated = await call(
      base,
      '/v1/evaluate',
      { conversation: 'c1', event: { type: 'message.received', attributes: { text: 'hi' } } },
      ACME_TOKEN,
    );
    t.equal(evaluated.status, 200);
    t.equal(evaluated.body.allowed, true);
    t.equal(evaluated.body.decisions.length, 1);
    t.match(evaluated.body.decisions[0], {
      rule: 'echo',
      channel: 'webhook',
      template: 'ack',
      rulesVersion: parley.rules!.current.version,
    });
    const none = await call(
      base,
      '/v1/evaluate',
      { conversation: 'c1', event: { type: 'purchase.completed' } },
      ACME_TOKEN,
    );
    t.equal(none.body.allowed, false, 'no rule for that event type');
    const bad = await call(base, '/v1/evaluate', { conversation: 'c.1', event: { type: 'x' } }, ACME_TOKEN);
    t.equal(bad.status, 400);
    t.match(JSON.stringify(bad.body), /conversation/, 'the field at fault is named');
    t.same(
      { events: await streamCount(h, 'EVENTS'), actions: await streamCount(h, 'ACTIONS') },
      before,
      'evaluate has no side effects',
    );

    t.equal(
      (await call(base, '/v1/trigger', { tenant: 'acme', conversation: 'c9', rule: 'echo' }, ACME_TOKEN))
        .status,
      403,
      'tenant token: forbidden',
    );
    const unknown = await call(
      base,
      '/v1/trigger',
      { tenant: 'acme', conversation: 'c9', rule: 'nope' },
      ADMIN_TOKEN,
    );
    t.equal(unknown.status, 400);
    const triggered = await call(
      base,
      '/v1/trigger',
      { tenant: 'acme', conversation: 'c9', rule: 'echo', reason: 'support ticket 7' },
      ADMIN_TOKEN,
    );
    t.equal(triggered.status, 202);
    t.equal(triggered.body.duplicate, false);
    const again = await call(
      base,
      '/v1/trigger',
      { tenant: 'acme', conversation: 'c9', rule: 'echo', id: triggered.body.id },
      ADMIN_TOKEN,
    );
    t.equal(again.body.duplicate, true, 'the same trigger id is deduplicated');
    t.equal(await streamCount(h, 'EVENTS'), before.events + 1, 'one admin.trigger event');
    await waitFor(
      'operator audit record',
      async () => (await streamCount(h, 'AUDIT', 'audit.operator.acme.c9')) >= 1,
    );
  },
);
