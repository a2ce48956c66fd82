/**
 * The inbox's live feed over a real nats-server (src/nats/inbox-feed.ts): one shared pair of ordered
 * consumers however many pages listen, every listener gets each new escalation and applied resolution, and
 * the consumers are deleted when the last listener leaves (a page closed), then created again for the next.
 */
import { fileURLToPath } from 'node:url';
import { headers } from '@nats-io/transport-node';
import t from 'tap';
import { STREAMS } from '../../src/contracts/names.js';
import { encode } from '../../src/envelope/codec.js';
import type { InboxChange } from '../../src/http/inbox/feed.js';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { NatsInboxFeed } from '../../src/nats/inbox-feed.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { createLogger } from '../../src/obs/logger.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, waitFor } from '../helpers/parley.js';

const nats = await startTestNats(t, { partitions: 4 });
const h = await connect(t, nats.url);
await applyDefinitions(h, loadDefinitions(fileURLToPath(new URL('../../streams', import.meta.url))), {
  partitions: 4,
});

const consumers = async (stream: string) => (await h.jsm.streams.info(stream)).state.consumer_count;

async function publish(subject: string, body: Record<string, unknown>): Promise<void> {
  const hdrs = headers();
  hdrs.set('Content-Type', 'application/msgpack');
  await h.js.publish(subject, encode(body), { headers: hdrs });
}

t.test('inbox feed - shared consumers, every listener served, cleaned up when the last leaves', async (t) => {
  const feed = new NatsInboxFeed(h, createLogger({ level: 'silent' }));
  const a: InboxChange[] = [];
  const b: InboxChange[] = [];
  const offA = feed.subscribe((c) => a.push(c));
  const offB = feed.subscribe((c) => b.push(c));
  t.equal(await feed.ready(), true);
  t.equal(await consumers(STREAMS.escalations), 1, 'one ESCALATIONS consumer for two listeners');
  t.equal(await consumers(STREAMS.audit), 1, 'one AUDIT consumer for two listeners');

  await publish('esc.acme.c1', {
    escalationId: 'acme.c1.7',
    tenant: 'acme',
    conversation: 'c1',
    reason: 'crisis',
    priority: 'urgent',
  });
  await publish('audit.escalation-resolved.acme.c1', {
    kind: 'escalation-resolved',
    tenant: 'acme',
    conversation: 'c1',
    escalationId: 'acme.c1.7',
    outcome: 'resume',
  });
  await waitFor('both listeners got both changes', async () => a.length === 2 && b.length === 2);
  t.same(a, [
    { kind: 'escalation', escalationId: 'acme.c1.7', tenant: 'acme', reason: 'crisis', priority: 'urgent' },
    { kind: 'resolved', escalationId: 'acme.c1.7', tenant: 'acme', outcome: 'resume' },
  ]);
  t.same(b, a);

  offA();
  t.equal(feed.listeners, 1);
  t.equal(await consumers(STREAMS.escalations), 1, 'kept while a listener remains');
  offB();
  await waitFor(
    'the consumers deleted',
    async () => (await consumers(STREAMS.escalations)) === 0 && (await consumers(STREAMS.audit)) === 0,
  );
  t.pass('no consumer left once the last listener left');

  const c: InboxChange[] = [];
  const offC = feed.subscribe((x) => c.push(x));
  t.equal(await feed.ready(), true, 'a later page starts them again');
  await publish('esc.acme.c2', {
    escalationId: 'acme.c2.9',
    tenant: 'acme',
    conversation: 'c2',
    reason: 'abuse',
    priority: 'high',
  });
  await waitFor('the new listener is served', async () => c.length === 1);
  t.match(c[0], { escalationId: 'acme.c2.9' }, 'only what is new (not the earlier records)');
  offC();
});
