/**
 * Per-stage latency inside Parley, from its own Prometheus histograms (GET /metrics on each process),
 * scraped before and after the measured phase: the bucket counts' difference is that phase's histogram,
 * and a quantile is read from it by linear interpolation within the bucket (so it is as coarse as the
 * buckets; the bench's own ack -> send latency is exact to 1 ms). Several processes are summed.
 */
import { get } from 'node:http';

/** The stages, in the order an event meets them, and the histogram each is read from. */
export const STAGES = {
  ingestPublish: 'parley_ingest_publish_seconds',
  actorCommit: 'parley_actor_commit_seconds',
  decisionToSend: 'parley_connector_decision_to_send_seconds',
  providerSend: 'parley_connector_send_seconds',
} as const;

/** metric name -> upper bound (le) -> cumulative count, summed over label sets. */
export type Scrape = Map<string, Map<number, number>>;

export function parseHistograms(text: string, names: readonly string[]): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line.includes('_bucket{')) continue;
    const name = line.slice(0, line.indexOf('_bucket{'));
    if (!names.includes(name)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    const buckets = out.get(name) ?? new Map<number, number>();
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    out.set(name, buckets);
  }
  return out;
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('metrics scrape timed out')));
    req.on('error', reject);
  });
}

/** Scrapes every process's /metrics and sums them; a process that does not answer is left out. */
export async function scrape(baseUrls: string[]): Promise<Scrape> {
  const names = Object.values(STAGES);
  const total: Scrape = new Map();
  for (const url of baseUrls) {
    const text = await fetchText(`${url}/metrics`).catch(() => '');
    for (const [name, buckets] of parseHistograms(text, names)) {
      const into = total.get(name) ?? new Map<number, number>();
      for (const [le, n] of buckets) into.set(le, (into.get(le) ?? 0) + n);
      total.set(name, into);
    }
  }
  return total;
}

export interface StageLatency {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** Quantile q (0-1) of a cumulative histogram, ms. */
function quantile(cumulative: Array<[number, number]>, q: number): number | null {
  const total = cumulative[cumulative.length - 1]?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of cumulative) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return Math.round(prevLe * 1000 * 10) / 10; // beyond the last bound
      const within = count - prevCount;
      const x = within > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / within : le;
      return Math.round(x * 1000 * 10) / 10;
    }
    prevLe = le;
    prevCount = count;
  }
  return null;
}

/** Per stage, the histogram between two scrapes, as percentiles. */
export function stageLatency(before: Scrape, after: Scrape): Record<keyof typeof STAGES, StageLatency> {
  const out = {} as Record<keyof typeof STAGES, StageLatency>;
  for (const [stage, name] of Object.entries(STAGES) as Array<[keyof typeof STAGES, string]>) {
    const a = after.get(name) ?? new Map<number, number>();
    const b = before.get(name) ?? new Map<number, number>();
    const cumulative = [...a.entries()]
      .map(([le, n]) => [le, n - (b.get(le) ?? 0)] as [number, number])
      .sort((x, y) => x[0] - y[0]);
    out[stage] = {
      count: cumulative[cumulative.length - 1]?.[1] ?? 0,
      p50Ms: quantile(cumulative, 0.5),
      p95Ms: quantile(cumulative, 0.95),
      p99Ms: quantile(cumulative, 0.99),
    };
  }
  return out;
}
