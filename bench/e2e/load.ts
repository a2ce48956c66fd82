/**
 * Load generation for the e2e bench: POST /v1/events over loopback with node:http keep-alive agents, in
 * batches. Two shapes, both bounded in count and time:
 *  - maxRate: a few clients post back to back, but no more than `maxBacklog` acknowledged events may be
 *    waiting for their send (closed loop: what is measured is the rate the whole pipeline sustains, not how
 *    fast ingest can fill a backlog);
 *  - paced: one batch every batch/rate seconds on an absolute schedule (a slow answer never delays the next
 *    batch), for the latency measurement.
 * A request answered 503 (or a connection error) is retried with the same event IDs; ingest dedupes them.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type IngestEvent, ingestEvent, isOptedOut, type Ledger } from './workload.js';

export interface Answer {
  status: number;
  text: string;
}

/** POSTs a JSON body with a bearer token over a keep-alive agent; resolves with status and body text. */
export function post(url: string, agent: Agent, token: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const MAX_TRIES = 5;

export class IngestClient {
  readonly #url: string;
  readonly #token: string;
  readonly #agent: Agent;
  readonly #ledger: Ledger;
  /** Round-trip time of every successful request, ms. */
  readonly requestMs: number[] = [];
  lastError: string | undefined;

  constructor(baseUrl: string, token: string, sockets: number, ledger: Ledger) {
    this.#url = `${baseUrl}/v1/events`;
    this.#token = token;
    this.#agent = new Agent({ keepAlive: true, maxSockets: sockets });
    this.#ledger = ledger;
  }

  /** Posts events (their ledger indexes in `indexes`, or -1 for warm-up); returns how many were acknowledged. */
  async send(events: IngestEvent[], indexes: number[]): Promise<number> {
    const body = JSON.stringify({ events });
    for (const i of indexes) if (i >= 0) this.#ledger.markPosted(i);
    for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
      const t0 = performance.now();
      let answer: Answer;
      try {
        answer = await post(this.#url, this.#agent, this.#token, body);
      } catch (err) {
        this.lastError = String(err);
        await new Promise((r) => setTimeout(r, 100 * attempt));
        continue;
      }
      const ackAt = Date.now();
      if (answer.status === 202) {
        this.requestMs.push(performance.now() - t0);
        const { results } = JSON.parse(answer.text) as { results: Array<{ duplicate: boolean }> };
        for (let k = 0; k < indexes.length; k++) {
          if (indexes[k]! >= 0) this.#ledger.acked(indexes[k]!, ackAt);
          if (results[k]?.duplicate) this.#ledger.ingestDuplicates++;
        }
        return events.length;
      }
      this.lastError = `HTTP ${answer.status}: ${answer.text.slice(0, 300)}`;
      if (answer.status !== 503) break;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
    this.#ledger.failedRequests++;
    return 0;
  }

  close(): void {
    this.#agent.destroy();
  }
}

export interface PhaseLoad {
  /** When the first request went out (ms since the epoch). */
  startedAt: number;
  /** When the last answer came back. */
  lastAckAt: number;
  posted: number;
  acked: number;
  /** Acknowledged events expected to produce a send (not opted out). */
  expected: number;
  /** Highest number of acknowledged events still waiting for their send, seen by the driver. */
  maxBacklog: number;
  timedOut: boolean;
}

export interface MaxRateOptions {
  from: number;
  to: number;
  batch: number;
  clients: number;
  maxBacklog: number;
  deadlineMs: number;
  /** Sends the platform has accepted for this phase so far. */
  delivered: () => number;
}

function newLoad(): PhaseLoad {
  return {
    startedAt: Date.now(),
    lastAckAt: 0,
    posted: 0,
    acked: 0,
    expected: 0,
    maxBacklog: 0,
    timedOut: false,
  };
}

/** Posts events [first, last) as one request and books the outcome on `load`. */
async function sendBatch(
  client: IngestClient,
  w: Ledger['w'],
  load: PhaseLoad,
  first: number,
  last: number,
): Promise<void> {
  const occurredAt = new Date().toISOString();
  const indexes: number[] = [];
  const events: IngestEvent[] = [];
  for (let i = first; i < last; i++) {
    indexes.push(i);
    events.push(ingestEvent(w, i, occurredAt));
  }
  load.posted += events.length;
  const acked = await client.send(events, indexes);
  load.acked += acked;
  if (acked > 0) for (const i of indexes) if (!isOptedOut(w, i)) load.expected++;
  load.lastAckAt = Date.now();
}

export async function maxRate(client: IngestClient, ledger: Ledger, o: MaxRateOptions): Promise<PhaseLoad> {
  const w = ledger.w;
  const load = newLoad();
  const deadline = load.startedAt + o.deadlineMs;
  let next = o.from;
  const worker = async () => {
    while (next < o.to) {
      if (Date.now() > deadline) {
        load.timedOut = true;
        return;
      }
      const backlog = load.expected - o.delivered();
      load.maxBacklog = Math.max(load.maxBacklog, backlog);
      if (o.maxBacklog > 0 && backlog >= o.maxBacklog) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const first = next;
      const last = Math.min(o.to, first + o.batch);
      next = last;
      await sendBatch(client, w, load, first, last);
    }
  };
  await Promise.all(Array.from({ length: o.clients }, worker));
  return load;
}

export interface PacedOptions {
  from: number;
  to: number;
  /** Events per second. */
  rate: number;
  batch: number;
  deadlineMs: number;
}

export async function paced(client: IngestClient, ledger: Ledger, o: PacedOptions): Promise<PhaseLoad> {
  const w = ledger.w;
  const intervalMs = (o.batch / o.rate) * 1000;
  const load = newLoad();
  const t0 = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let k = 0, first = o.from; first < o.to; k++, first += o.batch) {
    const wait = t0 + k * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (Date.now() - load.startedAt > o.deadlineMs) {
      load.timedOut = true;
      break;
    }
    const last = Math.min(o.to, first + o.batch);
    const p = sendBatch(client, w, load, first, last);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  return load;
}
