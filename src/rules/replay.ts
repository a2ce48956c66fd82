/**
 * Replay: evaluates a rule set over historical events with no side effects (the simulator: nothing is
 * published, nothing stored) and reports what would have happened, plus a diff against a baseline rule set
 * (the current rules). Deterministic: the same events and rules give a byte-identical report (no wall-clock
 * time in it; everything in stream order). Events the engine derived (timer wake-ups, detector signals) are
 * not replayed but re-derived by the simulation, so a rule set with other timers or detectors is judged on
 * its own.
 */
import type { StoredEvent } from '../contracts/ports.js';
import type { RuleSet } from './rule-set.js';
import { type SimDecision, Simulator } from './simulator.js';

export interface ReplayOptions {
  candidate: RuleSet;
  baseline?: RuleSet;
  /** Fire timers due up to this time at the end (default: the last event's time). */
  until?: number;
  range?: Record<string, unknown>;
}

export interface ReplayReport {
  rules: { candidate: string; baseline?: string };
  range: Record<string, unknown>;
  events: { read: number; replayed: number; derivedSkipped: number; firstSeq?: number; lastSeq?: number };
  conversations: number;
  decisions: SimDecision[];
  byRule: Record<string, number>;
  signals: Record<string, number>;
  journeys: Record<string, Record<string, number>>;
  diff?: { added: SimDecision[]; removed: SimDecision[]; unchanged: number };
}

function key(d: SimDecision): string {
  return JSON.stringify([
    d.conversation,
    d.eventId,
    d.rule,
    d.step ?? '',
    d.channel,
    d.template,
    d.variant ?? '',
    d.variables,
  ]);
}

function count<T>(items: T[], keyOf: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[keyOf(i)] = (out[keyOf(i)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function replayEvents(
  source: AsyncIterable<StoredEvent>,
  options: ReplayOptions,
): Promise<ReplayReport> {
  const candidate = new Simulator(options.candidate);
  const baseline = options.baseline ? new Simulator(options.baseline) : undefined;
  const conversations = new Set<string>();
  const events: ReplayReport['events'] = { read: 0, replayed: 0, derivedSkipped: 0 };
  let lastTime = 0;
  for await (const e of source) {
    events.read++;
    events.firstSeq ??= e.seq;
    events.lastSeq = e.seq;
    if (e.derived) {
      events.derivedSkipped++;
      continue;
    }
    events.replayed++;
    conversations.add(`${e.event.tenant}.${e.event.conversation}`);
    lastTime = Math.max(lastTime, e.timestampMs);
    candidate.apply(e.event, e.timestampMs, e.seq);
    baseline?.apply(e.event, e.timestampMs, e.seq);
  }
  const until = options.until ?? lastTime;
  candidate.advanceTo(until);
  baseline?.advanceTo(until);

  const journeys: ReplayReport['journeys'] = {};
  for (const s of candidate.journeySteps) {
    const j = journeys[s.journey] ?? {};
    j[s.outcome] = (j[s.outcome] ?? 0) + 1;
    journeys[s.journey] = j;
  }
  const report: ReplayReport = {
    rules: {
      candidate: options.candidate.version,
      ...(options.baseline ? { baseline: options.baseline.version } : {}),
    },
    range: options.range ?? {},
    events,
    conversations: conversations.size,
    decisions: candidate.decisions,
    byRule: count(candidate.decisions, (d) => (d.step ? `${d.rule}/${d.step}` : d.rule)),
    signals: count(candidate.signals, (s) => s.type),
    journeys,
  };
  if (baseline) {
    const base = new Map<string, number>();
    for (const d of baseline.decisions) base.set(key(d), (base.get(key(d)) ?? 0) + 1);
    const added: SimDecision[] = [];
    let unchanged = 0;
    for (const d of candidate.decisions) {
      const k = key(d);
      const n = base.get(k) ?? 0;
      if (n > 0) {
        base.set(k, n - 1);
        unchanged++;
      } else added.push(d);
    }
    const removed = baseline.decisions.filter((d) => {
      const k = key(d);
      const n = base.get(k) ?? 0;
      if (n > 0) {
        base.set(k, n - 1);
        return true;
      }
      return false;
    });
    report.diff = { added, removed, unchanged };
  }
  return report;
}

/** The report as text: totals, per-rule counts, journey outcomes and the diff. */
export function replayText(r: ReplayReport): string {
  const lines = [
    `rules ${r.rules.candidate}${r.rules.baseline ? ` (compared with current ${r.rules.baseline})` : ''}`,
    `events: ${r.events.read} read (seq ${r.events.firstSeq ?? '-'}..${r.events.lastSeq ?? '-'}), ${r.events.replayed} replayed, ${r.events.derivedSkipped} derived skipped; ${r.conversations} conversations`,
    `decisions: ${r.decisions.length}`,
    ...Object.entries(r.byRule).map(([k, v]) => `  ${k}: ${v}`),
    `signals: ${
      Object.entries(r.signals)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
    ...Object.entries(r.journeys).map(
      ([j, o]) =>
        `journey ${j}: ${Object.entries(o)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    ),
  ];
  if (r.diff) {
    lines.push(
      `diff vs current: +${r.diff.added.length} -${r.diff.removed.length} (${r.diff.unchanged} unchanged)`,
    );
    for (const d of r.diff.added.slice(0, 50))
      lines.push(
        `  + ${d.conversation} ${d.eventType} -> ${d.rule}${d.step ? `/${d.step}` : ''} ${d.channel}:${d.template}${d.variant ? ` [${d.variant}]` : ''}`,
      );
    for (const d of r.diff.removed.slice(0, 50))
      lines.push(
        `  - ${d.conversation} ${d.eventType} -> ${d.rule}${d.step ? `/${d.step}` : ''} ${d.channel}:${d.template}${d.variant ? ` [${d.variant}]` : ''}`,
      );
  }
  return lines.join('\n');
}
