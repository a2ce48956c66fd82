/**
 * A ModelClassifier over an OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server,
 * Ollama's /v1, ...): one request per message, temperature 0, a JSON answer `{label, confidence, detail}`.
 * Off by default (safety.model.enabled). At most `maxConcurrent` requests in flight; the caller's signal
 * (the enricher's timeout) aborts a request and anything waiting for a slot. The message text is sent to
 * the endpoint: point it only at a service the tenant's data may go to.
 */
import type { ModelClassifier, ModelInput, ModelResult } from './model-classifier.js';

export interface OpenAiClassifierOptions {
  /** Base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1. */
  url: string;
  model: string;
  apiKey?: string;
  maxConcurrent?: number;
  /** Replaces the built-in system prompt. */
  prompt?: string;
}

export const DEFAULT_MODEL_PROMPT = [
  'You classify one message a fan sent to a creator, for a safety system.',
  'Answer with JSON only: {"label": L, "confidence": C, "detail": D}.',
  'L is one of: "crisis" (self-harm or suicide risk), "abuse" (threats, harassment), "revenue-objection"',
  '(refund, chargeback, price complaint, cancellation), "opt-out" (asks to stop receiving messages), "none".',
  'C is your confidence between 0 and 1. D is a short lowercase tag or "".',
].join(' ');

export class ModelHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ModelHttpError';
  }
}

export class OpenAiClassifier implements ModelClassifier {
  readonly name: string;
  readonly #o: OpenAiClassifierOptions;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: OpenAiClassifierOptions) {
    this.#o = options;
    this.name = `openai:${options.model}`;
  }

  async classify(input: ModelInput, signal: AbortSignal): Promise<ModelResult> {
    await this.#slot(signal);
    try {
      return await this.#request(input, signal);
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  async #slot(signal: AbortSignal): Promise<void> {
    const max = this.#o.maxConcurrent ?? 16;
    while (this.#active >= max) {
      if (signal.aborted) throw new ModelHttpError('aborted while waiting for a slot');
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    if (signal.aborted) throw new ModelHttpError('aborted');
    this.#active++;
  }

  async #request(input: ModelInput, signal: AbortSignal): Promise<ModelResult> {
    const res = await fetch(`${this.#o.url.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      signal,
      headers: {
        'content-type': 'application/json',
        ...(this.#o.apiKey ? { authorization: `Bearer ${this.#o.apiKey}` } : {}),
      },
      body: JSON.stringify({
        model: this.#o.model,
        temperature: 0,
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: this.#o.prompt ?? DEFAULT_MODEL_PROMPT },
          { role: 'user', content: input.text },
        ],
      }),
    });
    if (!res.ok) throw new ModelHttpError(`model endpoint answered ${res.status}`, res.status);
    const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
    const content = body.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new ModelHttpError('model answer has no message content');
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch {
      throw new ModelHttpError('model answer is not JSON');
    }
    const p = parsed as { label?: unknown; confidence?: unknown; detail?: unknown };
    if (typeof p.label !== 'string') throw new ModelHttpError('model answer has no label');
    return {
      label: p.label,
      confidence: typeof p.confidence === 'number' ? p.confidence : Number(p.confidence ?? 0),
      ...(typeof p.detail === 'string' && p.detail ? { detail: p.detail } : {}),
    };
  }
}
