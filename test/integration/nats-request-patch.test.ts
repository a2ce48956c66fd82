/**
 * The RequestOne patch (src/nats/request-patch.ts) keeps every outcome of a request as the client had it:
 * answered requests resolve, unanswered ones time out, requests with no responders reject, and a
 * successful request no longer builds a "cancelled" error.
 */

import { createRequire } from 'node:module';
import { join } from 'node:path';
import { RequestOne } from '@nats-io/nats-core/internal';
import t from 'tap';
import { connectNats } from '../../src/nats/connection.js';
import { patchRequestOne } from '../../src/nats/request-patch.js';
import { startTestNats } from '../helpers/nats-server.js';
import { ROOT } from '../helpers/parley.js';

t.test('request-patch - outcomes unchanged; no error object built for a successful request', async (t) => {
  t.equal(patchRequestOne(), false, 'already applied once by connection.ts');
  t.equal((RequestOne.prototype as unknown as { parleyPatched?: boolean }).parleyPatched, true);
  const nats = await startTestNats(t, { partitions: 1 });
  const { nc } = await connectNats({ url: nats.url, reconnect: false });
  t.teardown(() => nc.close());
  nc.subscribe('echo', {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  nc.subscribe('silent', { callback: () => {} });
  await nc.flush();

  // The client's own errors module (the instance request.js uses), to count RequestError constructions.
  const errors = createRequire(import.meta.url)(
    join(ROOT, 'node_modules/@nats-io/nats-core/lib/errors.js'),
  ) as {
    RequestError: new (...args: unknown[]) => Error;
  };
  const Original = errors.RequestError;
  let built = 0;
  errors.RequestError = class extends Original {
    constructor(...args: unknown[]) {
      super(...args);
      built++;
    }
  };
  t.teardown(() => {
    errors.RequestError = Original;
  });
  const replies = await Promise.all(
    Array.from({ length: 50 }, (_, i) => nc.request('echo', `m${i}`, { timeout: 2000 })),
  );
  t.same(
    replies.map((r) => r.string()),
    Array.from({ length: 50 }, (_, i) => `m${i}`),
    'answered requests resolve',
  );
  t.equal(built, 0, 'no RequestError built for 50 successful requests');
  // The counter works: cancelling an unsettled request still builds (and rejects with) one.

  await t.rejects(nc.request('silent', 'x', { timeout: 200 }), /timeout/i, 'an unanswered request times out');
  t.ok(built > 0, 'the unsettled request was cancelled with a RequestError, as before');
  await t.rejects(
    nc.request('nobody.listens', 'x', { timeout: 2000 }),
    /no responders/i,
    'no responders still rejects',
  );
});
