/**
 * Engine-owned event types are reserved at every door: each type Parley emits (src/contracts/event-types.ts,
 * the operator events) is refused by HTTP ingest with a 400 naming `type`, and denied to a NATS producer and
 * to the ingest user by their permissions (src/nats/permissions.ts; test/integration/nats-permissions.test.ts
 * proves the same against nats-server).
 */
import t from 'tap';
import * as types from '../../src/contracts/event-types.js';
import { ENGINE_TYPE_PREFIXES, engineTypePrefix, isEngineType } from '../../src/contracts/event-types.js';
import { producerPermissions, ROLE_PERMISSIONS } from '../../src/nats/permissions.js';
import { ADMIN_TRIGGER_TYPE } from '../../src/rules/engine.js';
import { CONSENT_EVENT_TYPE } from '../../src/safety/consent.js';
import { ESCALATION_RESOLVED_EVENT } from '../../src/safety/escalation.js';
import { ACME_TOKEN, testApp } from '../helpers/http-fakes.js';

const EMITTED = Object.entries(types)
  .filter(([, v]) => typeof v === 'string')
  .map(([, v]) => v as string);
const OPERATOR_EVENTS = [ESCALATION_RESOLVED_EVENT, CONSENT_EVENT_TYPE, ADMIN_TRIGGER_TYPE];
const RESERVED = [...EMITTED, ...OPERATOR_EVENTS, ...ENGINE_TYPE_PREFIXES, 'action.custom.deep'];

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (s[i] === undefined || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

t.test('reserved-types - every type the engine emits is reserved; look-alikes are not', async (t) => {
  t.ok(EMITTED.length >= 6, `the emitted types are listed (${EMITTED.join(', ')})`);
  for (const type of RESERVED) t.ok(isEngineType(type), `${type} is reserved`);
  for (const type of [
    'message.received',
    'actionx.sent',
    'actions',
    'timers.x',
    'my.action.sent',
    'administrator',
  ])
    t.notOk(isEngineType(type), `${type} is a tenant type`);
  t.equal(engineTypePrefix('detector.inactive'), 'detector');
});

t.test(
  'reserved-types - HTTP ingest answers 400 naming type for each reserved type and stores nothing',
  async (t) => {
    const { app, sink } = testApp(t);
    for (const type of RESERVED) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: `Bearer ${ACME_TOKEN}` },
        payload: { type, conversation: 'c1', occurredAt: '2026-01-01T00:00:00Z', attributes: { dnd: false } },
      });
      t.equal(res.statusCode, 400, `${type}: 400`);
      t.match(res.json(), { error: { issues: [{ path: 'type', message: /reserved|emitted by Parley/ }] } });
    }
    t.equal(sink.stored.length, 0);
  },
);

t.test('reserved-types - NATS: a producer and the ingest user are denied each reserved type', async (t) => {
  const perms = producerPermissions('acme');
  const denied = (deny: readonly string[], subject: string) => deny.some((d) => matches(d, subject));
  for (const type of RESERVED) {
    const subject = `ingest.acme.c1.${type}`;
    t.ok(
      perms.publish.some((a) => matches(a, subject)),
      `${subject} is under the producer's allow`,
    );
    t.ok(denied(perms.publishDeny ?? [], subject), `the producer is denied ${type}`);
  }
  t.notOk(denied(perms.publishDeny ?? [], 'ingest.acme.c1.message.received'), 'tenant types pass');
  const ingest = ROLE_PERMISSIONS.ingest.publishDeny ?? [];
  for (const type of [...EMITTED, 'action', 'detector', 'timer']) {
    t.ok(denied(ingest, `ingest.acme.c1.${type}`), `ingest is denied ${type}`);
    t.ok(denied(ingest, `evt.3.acme.c1.${type}`), `ingest is denied ${type} after the mapping`);
  }
  for (const type of OPERATOR_EVENTS)
    t.notOk(denied(ingest, `ingest.acme.c1.${type}`), `ingest publishes the operator event ${type}`);
  t.notOk(
    ROLE_PERMISSIONS.ingest.publish.some((a) => matches(a, '$KV.parley-control.escalation.acme.c1')),
    'ingest cannot write escalation holds',
  );
  for (const key of ['global', 'tenant.acme', 'tenant.acme.conversation.c1', 'rule.echo', 'channel.dm'])
    t.ok(
      ROLE_PERMISSIONS.ingest.publish.some((a) => matches(a, `$KV.parley-control.${key}`)),
      `ingest writes the switch ${key}`,
    );
});
