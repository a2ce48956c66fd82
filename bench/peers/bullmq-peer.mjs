// The BullMQ peer of `parley bench --peers`: plain JavaScript, outside Parley's build, importing bullmq
// and ioredis from bench/peers/node_modules (installed on demand by the bench; never Parley's dependencies).
//
// The same work per event as the peers' workload in the SPEC, done the way a BullMQ user would:
//   producer (in the bench process): one queue.add per event, jobId = the event id (BullMQ dedupes it);
//   worker (this file run as a child process): read the conversation's state from Redis, fold the event
//   and send its webhook as every peer does (peer-work.mjs), write the state back in between; a 429/5xx
//   throws so BullMQ retries the job with backoff.
// ordered: 64 queues x concurrency 1, a conversation always on the same queue (per-conversation order);
// unordered: one queue, concurrency 200.
//
//   node bench/peers/bullmq-peer.mjs worker '<json config>'
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { fold, initialState, webhookSender } from './peer-work.mjs';

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

async function worker(config) {
  const { redisUrl, ordered, concurrency } = config;
  const state = connection(redisUrl);
  const webhook = webhookSender(config);
  const processor = async (job) => {
    const e = job.data;
    const sk = `state:${e.conversation}`;
    const raw = await state.get(sk);
    const s = raw ? JSON.parse(raw) : initialState();
    const template = fold(s, e, config);
    await state.set(sk, JSON.stringify(s));
    if (template) await webhook.send(e, template);
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
    webhook.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (process.argv[2] === 'worker') await worker(JSON.parse(process.argv[3]));
