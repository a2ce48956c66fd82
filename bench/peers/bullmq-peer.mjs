// The BullMQ peer of `parley bench --peers`: plain JavaScript, outside Parley's build, importing bullmq
// and ioredis from bench/peers/node_modules (installed on demand by the bench; never Parley's dependencies).
//
// The same work per event as the peers' workload in the SPEC, done the way a BullMQ user would:
//   producer (in the bench process): one queue.add per event, jobId = the event id (BullMQ dedupes it);
//   worker (this file run as a child process): read the conversation's state from Redis, fold the event
//   (opt-out on "STOP", escalation on a risky message, counters), write it back, then send one signed,
//   idempotent webhook (webhook-id = the action id) to the simulated platform unless the conversation is
//   opted out or escalated; a 429/5xx throws so BullMQ retries the job with backoff.
// ordered: 64 queues x concurrency 1, a conversation always on the same queue (per-conversation order);
// unordered: one queue, concurrency 200.
//
//   node bench/peers/bullmq-peer.mjs worker '<json config>'
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const JOB_OPTIONS = {
  removeOnComplete: true,
  removeOnFail: 1000,
  attempts: 20,
  backoff: { type: 'exponential', delay: 50 },
};

const connection = (url) => new IORedis(url, { maxRetriesPerRequest: null, enableAutoPipelining: true });

export function queueNames(ordered) {
  return ordered ? Array.from({ length: 64 }, (_, i) => `ordered-${i}`) : ['unordered'];
}

/** The producer side, used by the bench process: add(event, conversationNumber) resolves once stored. */
export async function createProducer({ redisUrl, ordered }) {
  const conn = connection(redisUrl);
  const queues = queueNames(ordered).map((name) => new Queue(name, { connection: conn }));
  return {
    add(event, c) {
      const q = queues[ordered ? c % queues.length : 0];
      return q.add(event.type, event, { ...JOB_OPTIONS, jobId: event.id });
    },
    async close() {
      await Promise.all(queues.map((q) => q.close()));
      conn.disconnect();
    },
  };
}

function post(agent, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after-ms'] }),
      );
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

async function worker(config) {
  const { redisUrl, ordered, simUrl, secret, stopText, riskyTexts, concurrency } = config;
  const state = connection(redisUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const risky = new Set(riskyTexts);
  const hookUrl = `${simUrl}/hooks/bench`;
  const processor = async (job) => {
    const e = job.data;
    const sk = `state:${e.conversation}`;
    const raw = await state.get(sk);
    const s = raw ? JSON.parse(raw) : { events: 0, spent: 0, optedOut: false, escalated: false, last: -1 };
    const text = typeof e.attributes?.text === 'string' ? e.attributes.text : '';
    if (text.trim().toUpperCase() === stopText) s.optedOut = true;
    if (risky.has(text)) s.escalated = true;
    if (e.type === 'purchase.completed') s.spent += Number(e.attributes?.amount ?? 0);
    s.events++;
    s.last = e.attributes?.n ?? s.last;
    await state.set(sk, JSON.stringify(s));
    if (s.optedOut || s.escalated) return;
    const template = e.type === 'purchase.completed' ? 'thanks' : 'ack';
    const action = `${e.id}.0`;
    const body = JSON.stringify({
      type: 'action',
      tenant: 'bench',
      conversation: e.conversation,
      rule: template === 'ack' ? 'echo' : 'thanks',
      action,
      template,
      variables: {},
      event: { id: e.id, type: e.type, attributes: e.attributes },
    });
    const ts = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', key).update(`${action}.${ts}.${body}`).digest('base64');
    const answer = await post(
      agent,
      hookUrl,
      {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'webhook-id': action,
        'webhook-timestamp': String(ts),
        'webhook-signature': `v1,${signature}`,
      },
      body,
    );
    if (answer.status >= 300) throw new Error(`webhook answered ${answer.status}`);
  };
  const workers = queueNames(ordered).map(
    (name) => new Worker(name, processor, { connection: connection(redisUrl), concurrency }),
  );
  for (const w of workers) w.on('error', (err) => process.stderr.write(`bullmq worker: ${err}\n`));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  process.stdout.write('ready\n');
  const stop = async () => {
    await Promise.all(workers.map((w) => w.close()));
    state.disconnect();
    agent.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (process.argv[2] === 'worker') await worker(JSON.parse(process.argv[3]));
