/**
 * JSON over HTTP for the HTTP channels, and the one translation of HTTP answers into the error taxonomy:
 * 2xx -> the parsed body; 408, 425, 429 and 5xx -> RetryableError (with Retry-After); other 4xx ->
 * TerminalError; network failures -> RetryableError. Nobody else reads status codes.
 */
import { Agent as HttpAgent, request as plainRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { RetryableError, TerminalError } from '../../errors/app-error.js';
import type { SendContext } from '../channel.js';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Retry-After as ms: `retry-after-ms` when present, else Retry-After seconds or HTTP-date. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds * 1000));
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

function describe(body: unknown): string {
  if (body === undefined || body === '') return '';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return `: ${text.slice(0, 300)}`;
}

/** Throws the error an HTTP failure means; returns normally for 2xx. */
export function checkHttpAnswer(what: string, answer: HttpAnswer): void {
  const { status, headers, body } = answer;
  if (status >= 200 && status < 300) return;
  const message = `${what} answered HTTP ${status}${describe(body)}`;
  if (status === 429) {
    throw new RetryableError(message, { code: 'RATE_LIMITED', retryAfterMs: retryAfterMs(headers) });
  }
  if (status === 408 || status === 425 || status >= 500) {
    throw new RetryableError(message, { code: `HTTP_${status}`, retryAfterMs: retryAfterMs(headers) });
  }
  throw new TerminalError(message, { code: `HTTP_${status}` });
}

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
};

/**
 * One HTTP request over keep-alive connections (node:http: measurably cheaper per request than fetch on the
 * send path). Never follows redirects; aborts with the context's signal.
 */
export function httpRequest(
  method: 'GET' | 'POST',
  url: string,
  ctx: SendContext,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const fail = (err: Error) =>
      reject(
        // Aborted by the runner's timeout, refused, reset: the provider may come back.
        new RetryableError(`${method} ${url} failed: ${err.message}`, {
          code: ctx.signal.aborted ? 'SEND_TIMEOUT' : 'NETWORK',
          cause: err,
        }),
      );
    const req = (secure ? httpsRequest : plainRequest)(
      target,
      {
        method,
        agent: secure ? agents.https : agents.http,
        signal: ctx.signal,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (typeof v === 'string') headers.set(k, v);
            else if (Array.isArray(v)) headers.set(k, v.join(', '));
          }
          let parsed: unknown = text;
          if ((headers.get('content-type') ?? '').includes('json') && text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              // keep the text
            }
          }
          resolve({ status: res.statusCode ?? 0, headers, body: parsed });
        });
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export function postJson(
  url: string,
  payload: unknown,
  ctx: SendContext,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return httpRequest('POST', url, ctx, {
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
}
