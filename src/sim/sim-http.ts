/** HTTP plumbing of the simulated platform: body reading, JSON answers, which API a POST is for, rate limits. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export interface Route {
  channel: string;
  account: string;
}

export function sendRoute(method: string, path: string): Route | undefined {
  if (method !== 'POST') return undefined;
  let m = /^\/v1\/accounts\/([^/]+)\/messages$/.exec(path);
  if (m) return { channel: 'platform-dm', account: decodeURIComponent(m[1]!) };
  m = /^\/v1\/push\/([^/]+)\/send$/.exec(path);
  if (m) return { channel: 'push', account: decodeURIComponent(m[1]!) };
  m = /^\/v1\/inbox\/([^/]+)\/messages$/.exec(path);
  if (m) return { channel: 'in-app', account: decodeURIComponent(m[1]!) };
  if (path.startsWith('/v1/') || path.startsWith('/_sim/')) return undefined;
  const segments = path.split('/').filter(Boolean);
  return { channel: 'webhook', account: segments.length > 1 ? segments[segments.length - 1]! : 'default' };
}

export interface SimBucket {
  tokens: number;
  at: number;
}

/**
 * Continuous-refill token bucket keyed in `buckets`, starting full. `leewayMs` of refill is tolerated as
 * arrival jitter. Returns 0 when a token was taken, else the ms until one is available.
 */
export function takeToken(
  buckets: Map<string, SimBucket>,
  key: string,
  rate: { perSecond: number; burst: number },
  now: number,
  leewayMs: number,
): number {
  const b = buckets.get(key) ?? { tokens: rate.burst, at: now };
  b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
  b.at = now;
  buckets.set(key, b);
  const leeway = (leewayMs * rate.perSecond) / 1000;
  if (b.tokens >= 1 - leeway) {
    b.tokens -= 1;
    return 0;
  }
  return Math.ceil(((1 - b.tokens) * 1000) / rate.perSecond);
}
