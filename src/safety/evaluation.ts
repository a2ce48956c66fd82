/**
 * Scoring the safety gate against a labelled corpus (test/fixtures/safety/): what the gate did with each
 * message (enrolled DND, escalated and why, or let automation carry on), per-label precision, recall and F1,
 * the confusion matrix, the benign false-positive rate and the misses. Pure: the caller supplies the
 * predictor, so the same scoring runs over today's gate, an older one, or a hosted model.
 */
import type { GateInput, SafetyGate, SnapshotView } from '../contracts/conversation/gate.js';
import { initialConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect, Effect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';

export const CORPUS_LABELS = ['crisis', 'opt-out', 'abuse', 'revenue-objection', 'benign'] as const;
export type CorpusLabel = (typeof CORPUS_LABELS)[number];

/** What the gate did: a label it acted on, `review` (escalated as low confidence), or `benign` (nothing). */
export const OUTCOMES = ['crisis', 'abuse', 'opt-out', 'revenue-objection', 'review', 'benign'] as const;
export type GateOutcome = (typeof OUTCOMES)[number];

export interface Sample {
  label: CorpusLabel;
  text: string;
}

/** `<label>\t<message>` per line; `#` lines and blank lines are skipped. */
export function parseCorpus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim() || line.startsWith('#')) continue;
    const tab = line.indexOf('\t');
    const label = line.slice(0, tab) as CorpusLabel;
    if (tab < 0 || !CORPUS_LABELS.includes(label)) throw new Error(`corpus line ${i + 1}: bad label`);
    out.push({ label, text: line.slice(tab + 1) });
  }
  return out;
}

/** The outcomes a gate's effects for one message add up to (several at once: STOP plus a threat). */
export function outcomesOf(effects: readonly Effect[]): Set<GateOutcome> {
  const out = new Set<GateOutcome>();
  for (const e of effects) {
    if (e.type === 'store' && e.bucket === 'parley-consent' && e.value?.dnd !== false) out.add('opt-out');
    if (e.type === 'escalate') {
      const r = e.reason;
      out.add(r === 'crisis' || r === 'abuse' || r === 'revenue-objection' ? r : 'review');
    }
  }
  return out;
}

/** The one outcome a confusion matrix shows: the most serious. */
export function primaryOutcome(outcomes: ReadonlySet<GateOutcome>): GateOutcome {
  return OUTCOMES.find((o) => outcomes.has(o)) ?? 'benign';
}

const CAUGHT_AS: Record<CorpusLabel, GateOutcome | undefined> = {
  crisis: 'crisis',
  'opt-out': 'opt-out',
  abuse: 'abuse',
  'revenue-objection': 'revenue-objection',
  benign: undefined,
};

export interface LabelScore {
  total: number;
  /** Recall: the gate took this sample's own action (a crisis escalated as crisis, an opt-out put on DND). */
  caught: number;
  recall: number;
  precision: number;
  f1: number;
}

export interface CorpusReport {
  samples: number;
  labels: Record<CorpusLabel, LabelScore>;
  /** Rows: true label; columns: primary outcome. */
  confusion: Record<CorpusLabel, Record<GateOutcome, number>>;
  /** Benign messages the gate did anything about (DND or any escalation), as a share of benign messages. */
  benignFlagged: number;
  benignFlaggedRate: number;
  misses: Array<{ label: CorpusLabel; outcome: GateOutcome; text: string }>;
}

export function scoreCorpus(
  samples: readonly Sample[],
  predict: (text: string) => Set<GateOutcome>,
): CorpusReport {
  const confusion = Object.fromEntries(
    CORPUS_LABELS.map((l) => [l, Object.fromEntries(OUTCOMES.map((o) => [o, 0]))]),
  ) as CorpusReport['confusion'];
  const caught = Object.fromEntries(CORPUS_LABELS.map((l) => [l, 0])) as Record<CorpusLabel, number>;
  const totals = { ...caught };
  const predicted = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<GateOutcome, number>;
  const truePositive = { ...predicted };
  const misses: CorpusReport['misses'] = [];
  let benignFlagged = 0;
  let leftAlone = 0;
  for (const s of samples) {
    const outcomes = predict(s.text);
    const primary = primaryOutcome(outcomes);
    confusion[s.label][primary]++;
    totals[s.label]++;
    for (const o of outcomes) {
      predicted[o]++;
      if (CAUGHT_AS[s.label] === o) truePositive[o]++;
    }
    const want = CAUGHT_AS[s.label];
    if (want ? outcomes.has(want) : outcomes.size === 0) caught[s.label]++;
    else misses.push({ label: s.label, outcome: primary, text: s.text });
    if (s.label === 'benign' && outcomes.size > 0) benignFlagged++;
    if (outcomes.size === 0) leftAlone++;
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  const labels = Object.fromEntries(
    CORPUS_LABELS.map((l) => {
      const o = CAUGHT_AS[l];
      const recall = ratio(caught[l], totals[l]);
      // Benign "precision": of the messages left alone, the share that were benign.
      const precision = o ? ratio(truePositive[o], predicted[o]) : ratio(caught[l], leftAlone);
      const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      return [l, { total: totals[l], caught: caught[l], recall, precision, f1 }];
    }),
  ) as Record<CorpusLabel, LabelScore>;
  return {
    samples: samples.length,
    labels,
    confusion,
    benignFlagged,
    benignFlaggedRate: ratio(benignFlagged, totals.benign),
    misses,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** A plain-text report: per-label scores, the confusion matrix, then the misses. */
export function formatCorpusReport(name: string, r: CorpusReport, showMisses = true): string {
  const lines = [`${name}: ${r.samples} messages`, ''];
  lines.push('label              n  caught  recall  precision  F1');
  for (const l of CORPUS_LABELS) {
    const s = r.labels[l];
    lines.push(
      `${l.padEnd(17)}${String(s.total).padStart(4)}${String(s.caught).padStart(8)}  ${pct(s.recall).padStart(6)}` +
        `  ${pct(s.precision).padStart(9)}  ${s.f1.toFixed(2)}`,
    );
  }
  lines.push(`benign flagged: ${r.benignFlagged} (${pct(r.benignFlaggedRate)})`, '');
  lines.push(`confusion (rows: label; columns: what the gate did)`);
  lines.push(`${''.padEnd(18)}${OUTCOMES.map((o) => o.slice(0, 8).padStart(9)).join('')}`);
  for (const l of CORPUS_LABELS)
    lines.push(`${l.padEnd(18)}${OUTCOMES.map((o) => String(r.confusion[l][o]).padStart(9)).join('')}`);
  if (showMisses && r.misses.length) {
    lines.push('', 'misses:');
    for (const m of r.misses) lines.push(`  ${m.label} -> ${m.outcome}: ${m.text}`);
  }
  return lines.join('\n');
}

const EMPTY: SnapshotView = { get: () => undefined };
const ECHO: ActionEffect = {
  type: 'action',
  channel: 'webhook',
  rule: 'echo',
  template: 'ack',
  variables: {},
};

/**
 * A predictor that puts each message through `gate` as the first `message.received` of a fresh
 * conversation (one rule reply proposed), with `enrich(text)` as the runtime's enrichment when given.
 */
export function gatePredictor(
  gate: SafetyGate,
  enrich?: (text: string) => Record<string, unknown> | undefined,
  now = Date.UTC(2026, 0, 5, 12),
): (text: string) => Set<GateOutcome> {
  let n = 0;
  return (text) => {
    n++;
    const event: EventEnvelope = {
      schema: 1,
      id: `corpus-${n}`,
      type: 'message.received',
      tenant: 'corpus',
      conversation: `c${n}`,
      occurredAt: new Date(now).toISOString(),
      attributes: { text },
    };
    const input: GateInput = {
      event,
      state: initialConversationState('corpus', `c${n}`),
      proposals: [ECHO],
      now,
      rulesVersion: 'corpus',
      seq: 1,
      switches: { control: EMPTY, consent: EMPTY },
      enrichment: enrich?.(text),
    };
    return outcomesOf(gate.review(input).effects);
  };
}
