/**
 * The offline second opinion: a multinomial naive Bayes classifier over word unigrams and bigrams of the
 * normalized message, trained on the development corpus by scripts/train-safety-model.ts and shipped as
 * data (second-opinion-model.json). Deterministic, in-process, a few µs per message.
 *
 * It plugs in like a hosted model, through the enrichment step (its result rides on the event as
 * `secondOpinion`), but it never decides alone: its verdict is advisory. It can open an escalation the
 * lexicons did not (a crisis said in words no lexicon has), never enrolls DND, never answers with a bridge,
 * and its "nothing here" lowers nothing. Missing or failing, it is simply absent: the lexicons still decide.
 */
import type { EventEnvelope } from '../contracts/envelope.js';
import { messageText } from './message-text.js';
import { normalizeText } from './normalize.js';
import MODEL from './second-opinion-model.json' with { type: 'json' };
import { type ClassifierVerdict, NONE } from './verdict.js';

export interface NaiveBayesModel {
  version: 1;
  /** Corpus labels, in the order of every count array. */
  labels: string[];
  /** Additive smoothing. */
  alpha: number;
  /** Feature occurrences per label (binarized per message). */
  totals: number[];
  /** Feature -> occurrences per label. */
  features: Record<string, number[]>;
}

export interface SecondOpinionResult {
  classifier: string;
  /** A gate label (crisis, abuse, revenue-objection, opt-out) or none. */
  label: string;
  /** Posterior probability of `label`, 0..1. */
  confidence: number;
}

/** What a labelled corpus calls harmless; the gate calls it none. */
const BENIGN = 'benign';

const NEGATORS = new Set(['not', 'never', 'nor']);

/**
 * Unique unigrams and bigrams of a message (normalized words; a bigram is `a_b`). The three words after a
 * negator are marked (`not:die`), so "I do not want to die" is not counted as wanting to die.
 */
export function featuresOf(text: string): string[] {
  const raw = normalizeText(text).split(' ').filter(Boolean);
  let negated = 0;
  const words = raw.map((w) => {
    if (NEGATORS.has(w)) {
      negated = 3;
      return w;
    }
    if (negated > 0) {
      negated--;
      return `not:${w}`;
    }
    return w;
  });
  const out = new Set<string>(words);
  for (let i = 1; i < words.length; i++) out.add(`${words[i - 1]}_${words[i]}`);
  return [...out];
}

/** Trains a model; deterministic (features sorted), pruned to features seen at least `minCount` times. */
export function trainNaiveBayes(
  samples: ReadonlyArray<{ label: string; text: string }>,
  options: { alpha?: number; minCount?: number } = {},
): NaiveBayesModel {
  const labels = [...new Set(samples.map((s) => s.label))].sort();
  const counts = new Map<string, number[]>();
  for (const s of samples) {
    const l = labels.indexOf(s.label);
    for (const f of featuresOf(s.text)) {
      let c = counts.get(f);
      if (!c) {
        c = labels.map(() => 0);
        counts.set(f, c);
      }
      c[l]!++;
    }
  }
  const minCount = options.minCount ?? 1;
  const features: Record<string, number[]> = {};
  const totals = labels.map(() => 0);
  for (const f of [...counts.keys()].sort()) {
    const c = counts.get(f)!;
    if (c.reduce((a, b) => a + b, 0) < minCount) continue;
    features[f] = c;
    for (let i = 0; i < c.length; i++) totals[i]! += c[i]!;
  }
  return { version: 1, labels, alpha: options.alpha ?? 0.5, totals, features };
}

export class NaiveBayesClassifier {
  readonly name: string;
  readonly #labels: readonly string[];
  /** log P(feature | label) per feature, computed once. */
  readonly #logLikelihood = new Map<string, Float64Array>();
  readonly #logPrior: number[];

  /** `benignPrior`: the share of messages assumed harmless (default 0.9); the rest split evenly. */
  constructor(model: NaiveBayesModel, options: { name?: string; benignPrior?: number } = {}) {
    this.name = options.name ?? 'naive-bayes';
    this.#labels = model.labels;
    const benign = model.labels.includes(BENIGN) ? (options.benignPrior ?? 0.9) : 0;
    const others = model.labels.length - (benign ? 1 : 0);
    this.#logPrior = model.labels.map((l) => Math.log(l === BENIGN ? benign : (1 - benign) / others));
    const v = Object.keys(model.features).length;
    const logDenominator = model.totals.map((t) => Math.log(t + model.alpha * v));
    for (const [f, c] of Object.entries(model.features))
      this.#logLikelihood.set(
        f,
        Float64Array.from(c, (n, i) => Math.log(n + model.alpha) - logDenominator[i]!),
      );
  }

  /** Posterior per label, with the traffic's priors (mostly benign), not the corpus proportions. */
  scores(text: string): Record<string, number> {
    const log = [...this.#logPrior];
    for (const f of featuresOf(text)) {
      const l = this.#logLikelihood.get(f);
      // A word the model never saw says nothing about any label.
      if (!l) continue;
      for (let i = 0; i < log.length; i++) log[i]! += l[i]!;
    }
    const max = Math.max(...log);
    const exp = log.map((x) => Math.exp(x - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return Object.fromEntries(this.#labels.map((l, i) => [l, exp[i]! / sum]));
  }

  predict(text: string): SecondOpinionResult {
    const s = this.scores(text);
    let best = BENIGN;
    for (const [l, p] of Object.entries(s)) if (p > (s[best] ?? 0)) best = l;
    return { classifier: this.name, label: best === BENIGN ? NONE : best, confidence: s[best] ?? 0 };
  }

  /** The ModelClassifier shape, so it can stand where a hosted model does (it never awaits anything). */
  async classify(input: { text: string }, _signal?: AbortSignal): Promise<SecondOpinionResult> {
    return this.predict(input.text);
  }
}

let bundled: NaiveBayesClassifier | undefined;

/** The classifier over the model shipped with Parley (built once, on first use). */
export function defaultSecondOpinion(): NaiveBayesClassifier {
  bundled ??= new NaiveBayesClassifier(MODEL as NaiveBayesModel);
  return bundled;
}

/** The enrichment for one message: `{ secondOpinion }`. */
export function secondOpinionEnrichment(
  classifier: Pick<NaiveBayesClassifier, 'predict'>,
  text: string,
): Record<string, unknown> {
  return { secondOpinion: classifier.predict(text) };
}

/** The enrichment step for ActorHost.enrich: undefined for events that carry no fan message. */
export function secondOpinionEnricher(
  classifier: Pick<NaiveBayesClassifier, 'predict'>,
  options: { eventTypes: readonly string[]; textFields: readonly string[] },
): (event: EventEnvelope) => Promise<Record<string, unknown> | undefined> {
  const types = new Set(options.eventTypes);
  return async (event) => {
    if (!types.has(event.type)) return undefined;
    const text = messageText(event, options.textFields);
    return text ? secondOpinionEnrichment(classifier, text) : undefined;
  };
}

/** Several enrichment steps as one: each runs, their results merged (a step's failure is its own key's). */
export function combineEnrichers(
  steps: ReadonlyArray<(event: EventEnvelope) => Promise<Record<string, unknown> | undefined>>,
): ((event: EventEnvelope) => Promise<Record<string, unknown> | undefined>) | undefined {
  if (steps.length <= 1) return steps[0];
  return async (event) => {
    const results = await Promise.all(steps.map((s) => s(event).catch(() => undefined)));
    const merged = Object.assign({}, ...results.filter(Boolean)) as Record<string, unknown>;
    return Object.keys(merged).length ? merged : undefined;
  };
}

export interface SecondOpinionThresholds {
  /** Posterior at which a crisis label opens an escalation. */
  crisis: number;
  /** Posterior at which any other label does. */
  other: number;
}

/**
 * The second opinion as the gate sees it: an advisory verdict (label none below its threshold), or
 * undefined when it did not run for this event.
 */
export function secondOpinionVerdict(
  enrichment: Readonly<Record<string, unknown>> | undefined,
  thresholds: SecondOpinionThresholds,
): ClassifierVerdict | undefined {
  const r = enrichment?.secondOpinion as SecondOpinionResult | undefined;
  if (!r || typeof r !== 'object' || typeof r.label !== 'string') return undefined;
  const confidence = Number.isFinite(r.confidence) ? Math.min(1, Math.max(0, r.confidence)) : 0;
  const min = r.label === 'crisis' ? thresholds.crisis : thresholds.other;
  const raised = r.label !== NONE && confidence >= min;
  return {
    type: 'classification',
    classifier: r.classifier || 'naive-bayes',
    label: raised ? r.label : NONE,
    confidence,
    // Leaning towards a label without reaching its threshold: recorded, not acted on.
    ...(!raised && r.label !== NONE ? { detail: `below-threshold:${r.label}` } : {}),
    advisory: true,
  };
}
