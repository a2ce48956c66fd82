import t from 'tap';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import {
  type EscalationMessage,
  getConsent,
  listEscalations,
  pause,
  resolveEscalation,
  resume,
  type SafetyStore,
  setConsent,
} from '../../src/ops/safety-ops.js';
import { ACME_TOKEN, ADMIN_TOKEN, testApp } from '../helpers/http-fakes.js';

/** An in-memory SafetyStore: what the NATS one does, observable. */
class MemoryStore implements SafetyStore {
  readonly escs: EscalationMessage[] = [];
  readonly kv = new Map<string, Record<string, unknown>>();
  readonly consents = new Map<string, Record<string, unknown>>();
  readonly events: EventEnvelope[] = [];
  readonly audits: Array<{
    kind: string;
    tenant: string;
    conversation: string;
    record: Record<string, unknown>;
  }> = [];
  async escalations(f: { tenant?: string; conversation?: string }) {
    return this.escs.filter(
      (e) => (!f.tenant || e.tenant === f.tenant) && (!f.conversation || e.conversation === f.conversation),
    );
  }
  control = {
    get: async (k: string) => this.kv.get(k),
    put: async (k: string, v: Record<string, unknown>) => void this.kv.set(k, v),
    delete: async (k: string) => void this.kv.delete(k),
    list: async () => [...this.kv].map(([key, value]) => ({ key, value })),
  };
  consent = { get: async (k: string) => this.consents.get(k) };
  async publishEvent(e: EventEnvelope) {
    const dup = this.events.some((x) => x.id === e.id);
    if (!dup) this.events.push(e);
    return { seq: this.events.findIndex((x) => x.id === e.id) + 1, duplicate: dup };
  }
  async eventAt(seq: number) {
    return this.events[seq - 1];
  }
  readonly auditIds = new Set<string>();
  async audit(
    kind: string,
    tenant: string,
    conversation: string,
    record: Record<string, unknown>,
    id?: string,
  ) {
    // As AUDIT's dedupe window does: a record with an id is kept once.
    if (id && this.auditIds.has(id)) return;
    if (id) this.auditIds.add(id);
    this.audits.push({ kind, tenant, conversation, record });
  }
  now() {
    return Date.UTC(2026, 0, 5, 12);
  }
  open(conversation: string, seq: number, priority: string, reason: string) {
    const id = `acme.${conversation}.${seq}`;
    this.escs.push({
      seq: this.escs.length + 1,
      escalationId: id,
      tenant: 'acme',
      conversation,
      reason,
      priority,
      evidence: {},
      at: '',
    });
    this.kv.set(`escalation.acme.${conversation}`, { escalationId: id, status: 'open', since: '' });
    return id;
  }
}

t.test(
  'safety ops - escalations are listed most urgent first with their status; resolve publishes one event',
  async (t) => {
    const s = new MemoryStore();
    const low = s.open('c1', 10, 'normal', 'revenue-objection');
    const high = s.open('c2', 11, 'urgent', 'crisis');
    s.open('c3', 12, 'high', 'abuse');
    s.kv.delete('escalation.acme.c3'); // resumed
    t.same(
      (await listEscalations(s, {})).map((e) => e.escalationId),
      [high, low],
    );
    t.same(
      (await listEscalations(s, { status: 'all' })).map((e) => e.status),
      ['open', 'resolved', 'open'],
    );

    const r = await resolveEscalation(s, high, {
      outcome: 'reply',
      reply: { text: 'here for you' },
      by: 'ops',
    });
    t.match(r, { escalationId: high, outcome: 'reply', duplicate: false });
    t.match(s.events[0], {
      type: 'admin.escalation.resolved',
      conversation: 'c2',
      attributes: { escalationId: high, outcome: 'reply' },
    });
    t.equal(
      (await resolveEscalation(s, high, { outcome: 'reply', reply: { text: 'here for you' }, by: 'ops' }))
        .duplicate,
      true,
      'the same request retried is deduplicated',
    );
    t.equal(s.audits.length, 1, 'and not audited twice');
    await t.rejects(
      resolveEscalation(s, high, { outcome: 'close', by: 'ops' }),
      {
        name: 'EscalationResolvedError',
        statusCode: 409,
        message: /resolved by ops \(reply\) at the same moment/,
      },
      'another outcome for the same open escalation loses: one resolution per escalation',
    );
    await t.rejects(
      resolveEscalation(s, high, { outcome: 'reply', reply: { text: 'here for you' }, by: 'other' }),
      { name: 'EscalationResolvedError', statusCode: 409, resolvedBy: 'ops' },
      'the same outcome from another operator loses too, naming the winner',
    );
    await t.rejects(
      resolveEscalation(s, high, { outcome: 'reply', reply: { text: 'something else' }, by: 'ops' }),
      { name: 'EscalationResolvedError', statusCode: 409 },
      'the same operator with another reply is not a retry',
    );
    t.equal(s.events.length, 1, 'one resolution event');
    t.equal(s.audits.length, 1, 'the losers are not audited');

    // Stored, then the audit failed: the client's retry is answered duplicate and audited then, once.
    const mid = s.open('c4', 13, 'high', 'abuse');
    const audit = s.audit.bind(s);
    s.audit = async () => {
      throw new Error('AUDIT unavailable');
    };
    await t.rejects(resolveEscalation(s, mid, { outcome: 'resume', by: 'ops' }), /AUDIT unavailable/);
    s.audit = audit;
    const retried = await resolveEscalation(s, mid, { outcome: 'resume', by: 'ops' });
    t.equal(retried.duplicate, true);
    await resolveEscalation(s, mid, { outcome: 'resume', by: 'ops' });
    t.equal(
      s.audits.filter((a) => a.record.escalationId === mid).length,
      1,
      'the retry audited what the first attempt could not, and a second retry nothing more',
    );

    // A closed escalation is reopened by resume or reply; closing it again is refused, publishing nothing.
    const closed = s.open('c5', 14, 'high', 'abuse');
    s.kv.set('escalation.acme.c5', { escalationId: closed, status: 'closed', since: '' });
    const before = s.events.length;
    await t.rejects(resolveEscalation(s, closed, { outcome: 'close', by: 'ops' }), {
      name: 'EscalationResolvedError',
      statusCode: 409,
      message: /already closed; resume or reply to reopen it/,
    });
    t.equal(s.events.length, before, 'nothing published');
    t.match(await resolveEscalation(s, closed, { outcome: 'resume', by: 'ops' }), { duplicate: false });
    t.match(s.events.at(-1), { id: `resolve.${closed}.closed` }, 'reopened under its own id');
    t.notOk(JSON.stringify(s.audits).includes('here for you'), 'the audit record has no message text');
    await t.rejects(
      resolveEscalation(s, high, { outcome: 'reply' }),
      /reply needs reply.text/,
      'reply needs text',
    );
    await t.rejects(resolveEscalation(s, high, { outcome: 'maybe' }), 'unknown outcome');
    await t.rejects(resolveEscalation(s, 'acme.c3.12', { outcome: 'resume' }), {
      statusCode: 409,
      message: /already resolved/,
    });
    await t.rejects(resolveEscalation(s, 'nope', { outcome: 'resume' }), /invalid escalation id/);
  },
);

t.test('safety ops - pause, resume and consent are audited operator actions', async (t) => {
  const s = new MemoryStore();
  const p = await pause(s, {
    scope: 'channel:acme/dm',
    mode: 'kill',
    reason: 'provider incident',
    by: 'ops',
  });
  t.match(p, { key: 'tenant.acme.channel.dm', mode: 'kill', scope: 'channel:acme/dm' });
  t.match(s.kv.get('tenant.acme.channel.dm'), { mode: 'kill', reason: 'provider incident' });
  t.match(await resume(s, { scope: 'channel:acme/dm' }), {
    key: 'tenant.acme.channel.dm',
    was: { mode: 'kill' },
  });
  t.equal(s.kv.size, 0);
  t.same(
    s.audits.map((a) => [a.tenant, a.record.action]),
    [
      ['acme', 'kill'],
      ['acme', 'resume'],
    ],
  );
  await t.rejects(pause(s, { scope: 'planet:mars' }), /invalid scope/);

  t.match(await getConsent(s, 'acme', 'c1'), { dnd: false, source: 'none' });
  await setConsent(s, 'acme', 'c1', { dnd: false, by: 'ops' });
  t.match(s.events.at(-1), { type: 'admin.consent.updated', attributes: { dnd: false } });
  await t.rejects(setConsent(s, 'acme', 'c1', { dnd: 'yes' }));
});

t.test('safety routes - admin only; resolve answers 202; validation errors name the field', async (t) => {
  const s = new MemoryStore();
  const id = s.open('c9', 42, 'urgent', 'crisis');
  const { app } = testApp(t, { safety: s });
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  t.equal(
    (
      await app.inject({
        method: 'GET',
        url: '/v1/escalations',
        headers: { authorization: `Bearer ${ACME_TOKEN}` },
      })
    ).statusCode,
    403,
  );
  const list = await app.inject({ method: 'GET', url: '/v1/escalations?tenant=acme', headers: admin });
  t.equal(list.statusCode, 200);
  t.match(list.json(), { escalations: [{ escalationId: id, status: 'open' }] });
  t.equal(
    (await app.inject({ method: 'GET', url: '/v1/escalations/acme.nope.1', headers: admin })).statusCode,
    404,
  );
  const bad = await app.inject({
    method: 'POST',
    url: `/v1/escalations/${id}/resolve`,
    headers: admin,
    payload: { outcome: 'reply' },
  });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { error: { issues: [{ path: 'reply' }] } });
  const ok = await app.inject({
    method: 'POST',
    url: `/v1/escalations/${id}/resolve`,
    headers: admin,
    payload: { outcome: 'resume', by: 'ops' },
  });
  t.equal(ok.statusCode, 202);
  t.match(ok.json(), { escalationId: id, outcome: 'resume' });
  const paused = await app.inject({
    method: 'POST',
    url: '/v1/pause',
    headers: admin,
    payload: { scope: 'tenant:acme' },
  });
  t.match(paused.json(), { key: 'tenant.acme', mode: 'pause' });
  t.match((await app.inject({ method: 'GET', url: '/v1/switches', headers: admin })).json(), {
    switches: [{ key: 'tenant.acme' }],
  });
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/v1/resume',
        headers: admin,
        payload: { scope: 'tenant:acme' },
      })
    ).statusCode,
    200,
  );
  const consent = await app.inject({
    method: 'PUT',
    url: '/v1/consent/acme/c9',
    headers: admin,
    payload: { dnd: true },
  });
  t.equal(consent.statusCode, 202);
  t.match((await app.inject({ method: 'GET', url: '/v1/consent/acme/c9', headers: admin })).json(), {
    tenant: 'acme',
    dnd: false,
  });
});

t.test(
  'safety routes - tenants cannot publish operator (admin.*) events through the ingest API',
  async (t) => {
    const { app, sink } = testApp(t);
    for (const type of ['admin.consent.updated', 'admin.escalation.resolved', 'admin.trigger']) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: `Bearer ${ACME_TOKEN}` },
        payload: { type, conversation: 'c1', occurredAt: '2026-01-05T12:00:00Z', attributes: { dnd: false } },
      });
      t.equal(res.statusCode, 400, type);
      t.match(res.json(), {
        error: { issues: [{ field: 'type', message: /reserved for operator events/ }] },
      });
    }
    t.equal(sink.stored.length, 0, 'nothing published');
  },
);
