/**
 * The pluggable model-based classifier: an async enrichment step the runtime awaits before the pure
 * transition (ActorHost.enrich), never the control plane. It runs under a timeout and never throws: a timeout
 * or an error becomes `{ status: 'error' }`, which the gate turns into an escalation (fail closed: the
 * conversation is never sent to blind). What the model says is only ever one more classifier verdict.
 */
import type { EventEnvelope } from '../contracts/envelope.js';
import { errorMessage } from '../errors/app-error.js';
import { messageText } from './message-text.js';
import type { ClassifierVerdict } from './verdict.js';

export interface ModelInput {
  text: string;
  tenant: string;
  conversation: string;
}

export interface ModelResult {
  /** One of none, crisis, abuse, revenue-objection, opt-out (other labels are treated as unsure). */
  label: string;
  confidence: number;
  detail?: string;
}

export interface ModelClassifier {
  readonly name: string;
  classify(input: ModelInput, signal: AbortSignal): Promise<ModelResult>;
}

/** What the enrichment step attaches to the event (under `model`). */
export type ModelEnrichment =
  | { status: 'ok'; classifier: string; label: string; confidence: number; detail?: string; ms: number }
  | { status: 'error'; classifier: string; error: string; ms: number };

export interface ModelEnricherOptions {
  timeoutMs: number;
  /** Event types that carry a fan's message. */
  eventTypes: readonly string[];
  /** Attribute names holding the message text, first non-empty wins. */
  textFields: readonly string[];
  /** For measuring time; default performance.now. */
  now?: () => number;
}

export const KNOWN_MODEL_LABELS = new Set(['none', 'crisis', 'abuse', 'revenue-objection', 'opt-out']);

const ALIASES: Record<string, string> = {
  'self-harm': 'crisis',
  selfharm: 'crisis',
  suicide: 'crisis',
  harassment: 'abuse',
  threat: 'abuse',
  refund: 'revenue-objection',
  chargeback: 'revenue-objection',
  objection: 'revenue-objection',
  optout: 'opt-out',
  unsubscribe: 'opt-out',
  safe: 'none',
};

export function normalizeModelLabel(label: string): string {
  const l = label
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');
  return ALIASES[l] ?? l;
}

/** The enrichment function for ActorHost.enrich: undefined for events that carry no fan message. */
export function modelEnricher(
  classifier: ModelClassifier,
  options: ModelEnricherOptions,
): (event: EventEnvelope) => Promise<Record<string, unknown> | undefined> {
  const now = options.now ?? (() => performance.now());
  const types = new Set(options.eventTypes);
  return async (event) => {
    if (!types.has(event.type)) return undefined;
    const text = messageText(event, options.textFields);
    if (!text) return undefined;
    const started = now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error('timeout'));
      }, options.timeoutMs);
    });
    let model: ModelEnrichment;
    try {
      const r = await Promise.race([
        classifier.classify(
          { text, tenant: event.tenant, conversation: event.conversation },
          controller.signal,
        ),
        timeout,
      ]);
      const confidence = Number(r.confidence);
      model = {
        status: 'ok',
        classifier: classifier.name,
        label: normalizeModelLabel(String(r.label)),
        confidence: Number.isFinite(confidence) ? Math.min(1, Math.max(0, confidence)) : 0,
        ...(r.detail ? { detail: String(r.detail) } : {}),
        ms: Math.round(now() - started),
      };
    } catch (err) {
      model = {
        status: 'error',
        classifier: classifier.name,
        error: errorMessage(err),
        ms: Math.round(now() - started),
      };
    } finally {
      clearTimeout(timer);
    }
    return { model };
  };
}

/**
 * The model's verdict as the gate sees it: a classifier verdict, or `unavailable` when the model was
 * configured for this event but gave no usable answer (error, timeout, no enrichment at all).
 */
export function modelVerdict(
  enrichment: Readonly<Record<string, unknown>> | undefined,
  name: string,
): { verdict: ClassifierVerdict } | { unavailable: string } {
  const m = enrichment?.model as ModelEnrichment | undefined;
  if (!m || typeof m !== 'object') return { unavailable: 'no-result' };
  if (m.status !== 'ok') return { unavailable: m.error || 'error' };
  const known = KNOWN_MODEL_LABELS.has(m.label);
  return {
    verdict: {
      type: 'classification',
      classifier: m.classifier || name,
      label: m.label,
      // An answer outside the vocabulary is no answer: it counts as zero confidence.
      confidence: known ? m.confidence : 0,
      ...(m.detail ? { detail: m.detail } : known ? {} : { detail: 'unknown-label' }),
    },
  };
}
