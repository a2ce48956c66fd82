import t from 'tap';
import { createDedupeKey } from '../../src/envelope/dedupe-key.js';
import { ValidationError } from '../../src/errors/app-error.js';
import { createIngestParser } from '../../src/http/ingest-body.js';
import { DEFAULT_INGEST_LIMITS } from '../../src/http/schemas.js';

const options = {
  limits: DEFAULT_INGEST_LIMITS,
  maxBatch: 10,
  dedupeWindowSeconds: 60,
  now: () => Date.UTC(2026, 0, 1),
};
const event = (over: Record<string, unknown> = {}) => ({
  id: 'e1',
  type: 'message.received',
  conversation: 'c1',
  occurredAt: '2026-01-01T00:00:00Z',
  ...over,
});

t.test(
  'dedupe-ingest-body - the Nats-Msg-Id is keyed with the deployment secret when there is one',
  async (t) => {
    const plain = createIngestParser(options).parse(event(), 'acme', 'trace');
    t.equal(plain[0]!.msgId, 'acme:e1');
    const keyed = createIngestParser({ ...options, msgId: createDedupeKey('sixteen-chars-or-more') });
    const [a] = keyed.parse(event(), 'acme', 'trace');
    t.match(a!.msgId, /^acme:e1:[A-Za-z0-9_-]{16}$/);
    t.equal(a!.envelope.id, 'e1', 'the event id itself is unchanged');
    t.equal(keyed.parse(event(), 'acme', 'x')[0]!.msgId, a!.msgId, 'the same on a retry');
  },
);

t.test('dedupe-ingest-body - engine event types cannot be published by a tenant', async (t) => {
  const parser = createIngestParser(options);
  for (const type of ['action.sent', 'detector.inactive', 'timer.wake', 'admin.consent']) {
    t.throws(() => parser.parse(event({ type }), 'acme', 'x'), ValidationError, type);
  }
  t.throws(() => parser.parse(event({ type: 'action.sent' }), 'acme', 'x'), { message: /emitted by Parley/ });
  t.doesNotThrow(() => parser.parse(event({ type: 'actions.requested' }), 'acme', 'x'), 'only whole tokens');
  t.doesNotThrow(() => parser.parse(event({ type: 'purchase.completed' }), 'acme', 'x'));
});
