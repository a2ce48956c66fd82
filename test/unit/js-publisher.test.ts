/**
 * The Nats-Msg-Id of what Parley publishes (src/nats/js-publisher.ts): keyed for EVENTS (subjects
 * `ingest.<tenant>.…`), so a direct producer cannot pre-empt an engine message by its predictable id;
 * plain elsewhere and without a key.
 */
import t from 'tap';
import { createDedupeKey } from '../../src/envelope/dedupe-key.js';
import { publishedMsgId } from '../../src/nats/js-publisher.js';

const key = createDedupeKey('a-deployment-secret-0123456789');

t.test(
  'js-publisher - events are published under the keyed id, other streams under the plain one',
  async (t) => {
    const wake = publishedMsgId('ingest.acme.c1.timer.wake', 'acme.c1.41.0', key);
    t.match(wake, /^acme:acme\.c1\.41\.0:[A-Za-z0-9_-]{16}$/, 'tenant, id and MAC');
    t.equal(publishedMsgId('ingest.acme.c1.timer.wake', 'acme.c1.41.0', key), wake, 'deterministic');
    t.not(publishedMsgId('ingest.globex.c1.timer.wake', 'acme.c1.41.0', key), wake, 'scoped by the tenant');
    t.not(
      publishedMsgId(
        'ingest.acme.c1.timer.wake',
        'acme.c1.41.0',
        createDedupeKey('another-secret-0123456789'),
      ),
      wake,
      'unguessable without the secret',
    );
    t.equal(publishedMsgId('act.3.webhook.acme.c1', 'acme.c1.41.0', key), 'acme.c1.41.0', 'ACTIONS: plain');
    t.equal(publishedMsgId('audit.decision.acme.c1', 'x', key), 'x', 'AUDIT: plain');
    t.equal(publishedMsgId('ingest.acme.c1.timer.wake', 'acme.c1.41.0', undefined), 'acme.c1.41.0', 'no key');
  },
);
