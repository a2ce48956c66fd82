/**
 * In-process fakes of the HTTP app's ports (src/http/ports.ts) and a config for buildApp, so the app can be
 * tested with inject() and no NATS: an event sink that deduplicates by Nats-Msg-Id like JetStream does, a
 * replay guard, a conversation reader and a readiness probe, each observable and able to fail on demand.
 */
import { loadConfig } from '../../src/config/load.js';
import type { ParleyConfig } from '../../src/config/schema.js';
import { RetryableError } from '../../src/errors/app-error.js';
import { type AppDeps, buildApp } from '../../src/http/build-app.js';
import type {
  ConversationReader,
  EventSink,
  PreparedEvent,
  ReadinessCheck,
  ReadinessProbe,
  ReplayGuard,
  StoredConversation,
  StoredEvent,
  TrailEntry,
} from '../../src/http/ports.js';
import { createLogger } from '../../src/obs/logger.js';
import { createRegistry } from '../../src/obs/metrics.js';

export const ACME_TOKEN = 'token-acme-0123456789';
export const GLOBEX_TOKEN = 'token-globex-0123456789';
export const ADMIN_TOKEN = 'token-admin-0123456789';
export const ACME_SECRET = `whsec_${Buffer.from('acme-signing-secret-0123456789').toString('base64')}`;
export const GLOBEX_SECRET = `whsec_${Buffer.from('globex-signing-secret-012345678').toString('base64')}`;

/** A config with tenants acme (plaintext token) and globex (hashed token), both with signing secrets. */
export function httpTestConfig(overrides: Record<string, unknown> = {}): ParleyConfig {
  return loadConfig({
    env: {},
    cwd: '/nonexistent-so-no-parley-yaml-is-read',
    overrides: {
      http: { host: '127.0.0.1', port: 0 },
      tenants: {
        acme: { auth: { tokens: [ACME_TOKEN], signingSecrets: [ACME_SECRET] } },
        globex: {
          auth: {
            // sha256 of GLOBEX_TOKEN, as parley token hash prints it
            tokens: ['sha256:85e17939e7543e1779f318b703004a0f20434330aa772532a605c937e6083da6'],
            signingSecrets: [GLOBEX_SECRET],
          },
        },
      },
      admin: { tokens: [ADMIN_TOKEN] },
      ...overrides,
    },
  }).config;
}

export class MemoryEventSink implements EventSink {
  readonly stored: PreparedEvent[] = [];
  readonly #seqByMsgId = new Map<string, number>();
  /** Set to make publish() fail like an unreachable NATS. */
  failWith: Error | undefined;
  calls = 0;

  async publish(events: readonly PreparedEvent[]): Promise<StoredEvent[]> {
    this.calls++;
    if (this.failWith) throw this.failWith;
    return events.map((e) => {
      const seen = this.#seqByMsgId.get(e.msgId);
      if (seen !== undefined) return { seq: seen, duplicate: true };
      this.stored.push(e);
      const seq = this.stored.length;
      this.#seqByMsgId.set(e.msgId, seq);
      return { seq, duplicate: false };
    });
  }
}

export class MemoryReplayGuard implements ReplayGuard {
  readonly #claimed = new Set<string>();
  async claim(tenant: string, key: string): Promise<boolean> {
    const k = `${tenant}.${key}`;
    if (this.#claimed.has(k)) return false;
    this.#claimed.add(k);
    return true;
  }
}

export class MemoryConversations implements ConversationReader {
  readonly states = new Map<string, StoredConversation>();
  readonly trails = new Map<string, TrailEntry[]>();
  async read(tenant: string, conversation: string) {
    return this.states.get(`${tenant}.${conversation}`);
  }
  async trail(tenant: string, conversation: string, limit: number) {
    return (this.trails.get(`${tenant}.${conversation}`) ?? []).slice(-limit);
  }
}

export class StaticReadiness implements ReadinessProbe {
  checks: ReadinessCheck[] = [{ name: 'nats', ok: true }];
  async check() {
    return this.checks;
  }
}

export interface TestApp {
  app: ReturnType<typeof buildApp>;
  sink: MemoryEventSink;
  conversations: MemoryConversations;
  readiness: StaticReadiness;
  deps: AppDeps;
}

export function testApp(t: { teardown(fn: () => unknown): void }, extra: Partial<AppDeps> = {}): TestApp {
  const sink = new MemoryEventSink();
  const conversations = new MemoryConversations();
  const readiness = new StaticReadiness();
  const deps: AppDeps = {
    config: httpTestConfig(),
    log: createLogger({ level: 'silent' }),
    registry: createRegistry({ defaultMetrics: false }),
    events: sink,
    conversations,
    replay: new MemoryReplayGuard(),
    readiness,
    ...extra,
  };
  const app = buildApp(deps);
  t.teardown(() => app.close());
  return { app, sink, conversations, readiness, deps };
}

export function unavailable(): RetryableError {
  return new RetryableError('NATS is not connected', { code: 'NATS_UNAVAILABLE' });
}
