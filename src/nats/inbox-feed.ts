/**
 * InboxFeed over NATS: one shared fan-out per process. While at least one inbox page listens, two ordered
 * consumers deliver what is new (deliver policy `new`): ESCALATIONS (`esc.>`: an escalation opened or raised)
 * and AUDIT's `audit.escalation-resolved.>` (the actor applied a resolution). Each message is decoded once and
 * passed to every listener; the last listener leaving stops both consumers (an ordered consumer is
 * ephemeral and is deleted here rather than left for its inactive threshold).
 *
 * Uses only grants the ingest NATS user has (consume ESCALATIONS and AUDIT).
 */
import { type Consumer, type ConsumerMessages, DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { HDR_CONTENT_TYPE } from '../contracts/headers.js';
import { STREAMS } from '../contracts/names.js';
import { decodeBody } from '../envelope/codec.js';
import type { InboxChange, InboxFeed } from '../http/inbox/feed.js';
import type { Logger } from '../obs/logger.js';
import type { NatsHandles } from './connection.js';

type Listener = (change: InboxChange) => void;

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function body(m: JsMsg): Record<string, unknown> | undefined {
  try {
    return asObject(decodeBody(m.data, m.headers?.get(HDR_CONTENT_TYPE) || undefined));
  } catch {
    return undefined;
  }
}

export function escalationChange(m: JsMsg): InboxChange | undefined {
  const b = body(m);
  if (!b) return undefined;
  return {
    kind: 'escalation',
    escalationId: String(b.escalationId ?? b.id),
    tenant: String(b.tenant),
    reason: String(b.reason),
    priority: String(b.priority),
  };
}

export function resolvedChange(m: JsMsg): InboxChange | undefined {
  const b = body(m);
  if (!b || typeof b.escalationId !== 'string') return undefined;
  // audit.escalation-resolved.<tenant>.<conversation>
  const tenant = typeof b.tenant === 'string' ? b.tenant : (m.subject.split('.')[2] ?? '');
  return {
    kind: 'resolved',
    escalationId: b.escalationId,
    tenant,
    ...(typeof b.outcome === 'string' ? { outcome: b.outcome } : {}),
  };
}

interface Running {
  consumers: Consumer[];
  streams: ConsumerMessages[];
}

export class NatsInboxFeed implements InboxFeed {
  readonly #h: NatsHandles;
  readonly #log: Logger;
  readonly #listeners = new Set<Listener>();
  #running: Promise<Running | undefined> | undefined;

  constructor(h: NatsHandles, log: Logger) {
    this.#h = h;
    this.#log = log.child({ component: 'inbox-feed' });
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    this.#running ??= this.#start().then((r) => {
      // Unavailable: the next subscriber tries again.
      if (!r && this.#listeners.size === 0) this.#running = undefined;
      return r;
    });
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      const running = this.#running;
      this.#running = undefined;
      void running?.then((r) => r && this.#stop(r));
    };
  }

  async ready(): Promise<boolean> {
    return (await this.#running) !== undefined;
  }

  /** Listeners now (for tests and metrics). */
  get listeners(): number {
    return this.#listeners.size;
  }

  async #start(): Promise<Running | undefined> {
    const sources: Array<{ stream: string; filter: string; change: (m: JsMsg) => InboxChange | undefined }> =
      [
        { stream: STREAMS.escalations, filter: 'esc.>', change: escalationChange },
        { stream: STREAMS.audit, filter: 'audit.escalation-resolved.>', change: resolvedChange },
      ];
    const running: Running = { consumers: [], streams: [] };
    try {
      for (const s of sources) {
        const consumer = await this.#h.js.consumers.get(s.stream, {
          filter_subjects: s.filter,
          deliver_policy: DeliverPolicy.New,
        });
        running.consumers.push(consumer);
        const messages = await consumer.consume();
        running.streams.push(messages);
        void this.#pump(messages, s.change);
      }
      return running;
    } catch (err) {
      this.#log.warn({ err }, 'inbox live updates unavailable');
      await this.#stop(running);
      return undefined;
    }
  }

  async #pump(messages: ConsumerMessages, change: (m: JsMsg) => InboxChange | undefined): Promise<void> {
    try {
      for await (const m of messages) {
        const c = change(m);
        if (!c) continue;
        for (const l of this.#listeners) l(c);
      }
    } catch (err) {
      this.#log.warn({ err }, 'inbox live updates stopped');
    }
  }

  async #stop(r: Running): Promise<void> {
    for (const m of r.streams) await m.close().catch(() => {});
    for (const c of r.consumers) await c.delete().catch(() => {});
  }
}
