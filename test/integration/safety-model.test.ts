/**
 * The model classifier: the OpenAI-compatible adapter against a fake server on 127.0.0.1 (answers, errors,
 * timeouts), and end to end: a model that does not answer in time escalates the conversation and nothing
 * is sent (fail closed); a model that answers lets it through.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { EventEnvelope } from '../../src/envelope/envelope.js';
import { NatsSafetyStore } from '../../src/nats/safety-store.js';
import { listEscalations } from '../../src/ops/safety-ops.js';
import { modelEnricher } from '../../src/safety/model-classifier.js';
import { OpenAiClassifier } from '../../src/safety/openai-classifier.js';
import { startSim } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, publishEvents, startParley, streamCount, testConfig, waitFor } from '../helpers/parley.js';

type Handler = (body: { messages: Array<{ role: string; content: string }> }, res: ServerResponse) => void;

async function fakeModel(t: { teardown(fn: () => unknown): void }, handler: Handler) {
  const requests: Array<{ auth?: string; body: unknown }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      const body = JSON.parse(data);
      requests.push({ auth: req.headers.authorization, body });
      if (req.url !== '/v1/chat/completions') {
        res.writeHead(404).end();
        return;
      }
      handler(body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  t.teardown(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

const answer = (res: ServerResponse, content: unknown) =>
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: JSON.stringify(content) } }] }));

const event = (text: string, type = 'message.received'): EventEnvelope => ({
  schema: 1,
  id: `e-${text}`,
  type,
  tenant: 'acme',
  conversation: 'c1',
  occurredAt: new Date().toISOString(),
  attributes: { text },
});

t.test(
  'safety model - the OpenAI-compatible adapter: answers, errors and timeouts all become values',
  async (t) => {
    const fake = await fakeModel(t, (body, res) => {
      const text = body.messages.at(-1)!.content;
      if (text === 'slow') return void setTimeout(() => answer(res, { label: 'none', confidence: 1 }), 2000);
      if (text === 'boom') return void res.writeHead(500).end('oops');
      if (text === 'garbage')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"choices":[{"message":{"content":"not json"}}]}');
      if (text === 'weird') return answer(res, { label: 'spicy', confidence: 0.99 });
      return answer(res, { label: 'Self-Harm', confidence: 0.87, detail: 'ideation' });
    });
    const model = new OpenAiClassifier({ url: fake.url, model: 'tiny', apiKey: 'sk-test' });
    const enrich = modelEnricher(model, {
      timeoutMs: 300,
      eventTypes: ['message.received'],
      textFields: ['text'],
    });

    t.match(await enrich(event('i feel awful')), {
      model: {
        status: 'ok',
        classifier: 'openai:tiny',
        label: 'crisis',
        confidence: 0.87,
        detail: 'ideation',
      },
    });
    t.equal(fake.requests[0]!.auth, 'Bearer sk-test', 'the API key is sent');
    t.match(fake.requests[0]!.body, {
      model: 'tiny',
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    const started = Date.now();
    t.match(await enrich(event('slow')), { model: { status: 'error', error: 'timeout' } });
    t.ok(Date.now() - started < 1000, 'gives up at the timeout');
    t.match(await enrich(event('boom')), { model: { status: 'error', error: /500/ } });
    t.match(await enrich(event('garbage')), { model: { status: 'error', error: /not JSON/ } });
    t.match(
      await enrich(event('weird')),
      { model: { status: 'ok', label: 'spicy' } },
      'passed on; the gate treats it as unsure',
    );
    t.equal(
      await enrich(event('hi', 'purchase.completed')),
      undefined,
      'events without a fan message are not sent',
    );
    const down = modelEnricher(new OpenAiClassifier({ url: 'http://127.0.0.1:1/v1', model: 'x' }), {
      timeoutMs: 500,
      eventTypes: ['message.received'],
      textFields: ['text'],
    });
    t.match(await down(event('hi')), { model: { status: 'error' } }, 'connection refused is an error value');
  },
);

t.test('safety model - a classifier timeout escalates the conversation and nothing is sent', async (t) => {
  const fake = await fakeModel(t, (body, res) => {
    const text = body.messages.at(-1)!.content;
    if (text.startsWith('slow'))
      return void setTimeout(() => answer(res, { label: 'none', confidence: 1 }), 1500);
    answer(res, { label: 'none', confidence: 0.95 });
  });
  const nats = await startTestNats(t, { partitions: 2 });
  const sim = await startSim(t);
  const config = testConfig(t, nats.url, 2, {
    tenants: {
      acme: { channels: { webhook: { url: `${sim.url}/hooks/acme`, secret: 'test-secret-1234' } } },
    },
    safety: { model: { enabled: true, url: fake.url, model: 'tiny', timeoutMs: 300 } },
  });
  await startParley(t, config);
  const h = await connect(t, nats.url);
  const msg = (conversation: string, text: string): EventEnvelope => ({
    ...event(text),
    id: `${conversation}-${text}`,
    conversation,
  });
  await publishEvents(h, [msg('fast', 'hello'), msg('blind', 'slow hello')]);
  const store = await NatsSafetyStore.open(h);
  const [esc] = await waitFor('the escalation', async () => {
    const l = await listEscalations(store, {});
    return l.length ? l : undefined;
  });
  t.match(esc, {
    conversation: 'blind',
    reason: 'classifier-unavailable',
    evidence: { modelError: 'timeout' },
  });
  await waitFor('the fast conversation is answered', async () => sim.sends().length >= 1);
  await new Promise((r) => setTimeout(r, 1500));
  const to = (c: string) =>
    sim.sends().filter((s) => (JSON.parse(s.body) as { conversation: string }).conversation === c);
  t.equal(to('fast').length, 1, 'a message the model cleared is sent');
  t.equal(to('blind').length, 0, 'never sent blind: unsafe sends 0');
  t.equal(await streamCount(h, 'AUDIT', 'audit.escalated.acme.blind'), 1);
});
