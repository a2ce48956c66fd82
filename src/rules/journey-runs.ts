/**
 * Journey runs within one evaluation (engine.ts is the caller and the host): entering, advancing step by
 * step until a run waits, delays or exits, waits that the event ends, `exit_on` and step `cancel_on`, and
 * the journey audit. A run is pinned to the journey version it started on; a run whose version is gone
 * exits (`version_unavailable`). Pure: state is the host's AutomationState, time the event's stream time.
 */
import type { JourneyRun } from '../contracts/conversation/automation.js';
import type { DecisionMeta } from '../contracts/effects.js';
import { renderAction } from './actions.js';
import type { CompiledJourney } from './journey.js';
import { cancelling, keptTrigger, type PendingHost } from './pending.js';
import type { RuleSet } from './rule-set.js';

const MAX_STEPS_PER_EVENT = 1000;

/** What a journey run needs of the evaluation: the pending host, the rule set and the document. */
export interface RunHost extends PendingHost {
  readonly set: RuleSet;
  doc(journey?: { id: string; version: string; step: string }): Record<string, unknown>;
}

export function setRun(h: RunHost, id: string, run: JourneyRun | undefined): void {
  const journeys = { ...h.auto.journeys };
  if (run) journeys[id] = run;
  else delete journeys[id];
  h.auto.journeys = journeys;
}

export function exitRun(
  h: RunHost,
  j: { id: string; version: string },
  run: JourneyRun,
  reason: string,
  path: string[],
): void {
  h.cancelTimer(run.timer);
  setRun(h, j.id, undefined);
  const hist = h.auto.history?.[j.id] ?? { runs: 1 };
  h.auto.history = { ...h.auto.history, [j.id]: { ...hist, lastExitAt: h.now, lastExit: reason } };
  audit(h, j, run, path, `exited:${reason}`);
}

export function audit(
  h: RunHost,
  j: { id: string; version: string },
  run: JourneyRun,
  path: string[],
  outcome: string,
): void {
  h.effects.push({
    type: 'audit',
    kind: 'journey',
    record: {
      journey: j.id,
      journeyVersion: j.version,
      rulesVersion: h.set.version,
      startedBy: run.startedBy,
      trigger: { eventId: h.event.id, type: h.event.type, seq: h.seq },
      path,
      outcome,
    },
  });
}

/** Runs a journey from `stepId` until it waits, delays or exits. `path` starts with how it got there. */
export function advance(
  h: RunHost,
  j: CompiledJourney,
  start: JourneyRun,
  stepId: string,
  path: string[],
): void {
  let run: JourneyRun = { ...start, timer: undefined };
  let id = stepId;
  for (let guard = 0; guard < MAX_STEPS_PER_EVENT; guard++) {
    const step = j.steps.get(id)!;
    path.push(id);
    if (step.maxVisits !== undefined) {
      const visits = run.visits?.[id] ?? 0;
      if (visits >= step.maxVisits) {
        exitRun(h, j, run, 'max_visits', path);
        return;
      }
      run = { ...run, visits: { ...run.visits, [id]: visits + 1 } };
    }
    run = { ...run, step: id, stepAt: h.now };
    const where = { id: j.id, version: j.version, step: id };
    switch (step.kind) {
      case 'action': {
        const decision: DecisionMeta = { rulesVersion: run.startedBy, journey: where };
        const doc = h.doc(where);
        for (const a of step.actions) h.proposals.push(renderAction(a, j.id, doc, decision));
        id = step.next!;
        continue;
      }
      case 'branch': {
        const doc = h.doc(where);
        id = step.cases.find((c) => c.matches(doc))?.next ?? step.next!;
        continue;
      }
      case 'delay':
      case 'wait': {
        const ms = step.kind === 'delay' ? step.delayMs : step.wait!.timeoutMs;
        run.timer = h.addTimer({ at: h.now + ms, kind: 'journey', journey: j.id });
        setRun(h, j.id, run);
        audit(h, j, run, path, step.kind === 'delay' ? 'delaying' : 'waiting');
        return;
      }
      case 'exit':
        setRun(h, j.id, run);
        exitRun(h, j, run, step.exitReason ?? 'completed', path);
        return;
    }
  }
  exitRun(h, j, run, 'step_limit', path);
}

/** The journey a run is pinned to; a run whose version is gone exits (recorded). */
export function pinned(h: RunHost, id: string, run: JourneyRun): CompiledJourney | undefined {
  const j = h.set.journeyAt(id, run.version);
  if (!j) exitRun(h, { id, version: run.version }, run, 'version_unavailable', [run.step]);
  return j;
}

/** `exit_on` of each journey in flight and `cancel_on` of the step it rests at. */
export function runExits(h: RunHost): void {
  const runs = h.auto.journeys;
  if (!runs) return;
  const type = h.event.type;
  for (const id of Object.keys(runs).sort()) {
    const run = h.auto.journeys?.[id];
    if (!run) continue;
    const j = pinned(h, id, run);
    if (!j?.cancelTypes.has(type)) continue;
    const doc = { ...h.doc({ id, version: j.version, step: run.step }), trigger: run.trigger ?? {} };
    if (cancelling(j.exitOn, type, doc)) exitRun(h, j, run, `exit_on:${type}`, [run.step]);
    else if (cancelling(j.steps.get(run.step)?.cancels ?? [], type, doc))
      exitRun(h, j, run, `cancelled:${run.step}`, [run.step]);
  }
}

export function runWaits(h: RunHost): void {
  const runs = h.auto.journeys;
  if (!runs) return;
  for (const id of Object.keys(runs).sort()) {
    const run = h.auto.journeys?.[id];
    if (!run) continue;
    const j = pinned(h, id, run);
    const step = j?.steps.get(run.step);
    if (!j || step?.kind !== 'wait' || !step.wait!.types.has(h.event.type)) continue;
    if (!step.wait!.matches(h.doc({ id, version: j.version, step: step.id }))) continue;
    h.cancelTimer(run.timer);
    advance(h, j, run, step.onEvent!, [`${step.id}:on_event`]);
  }
}

export function enter(h: RunHost, j: CompiledJourney, forced: boolean): void {
  const current = h.auto.journeys?.[j.id];
  const history = h.auto.history?.[j.id];
  if (!forced) {
    if (j.reentry === 'once' && (history || current)) return;
    if (j.reentry === 'after_exit' && current) return;
  }
  if (current) exitRun(h, j, current, forced ? 'retriggered' : 'reentered', [current.step]);
  h.auto.history = {
    ...h.auto.history,
    [j.id]: { ...(h.auto.history?.[j.id] ?? {}), runs: (h.auto.history?.[j.id]?.runs ?? 0) + 1 },
  };
  const run: JourneyRun = {
    version: j.version,
    startedBy: h.set.version,
    step: j.start,
    enteredAt: h.now,
    stepAt: h.now,
    ...(j.cancelTypes.size > 0 ? { trigger: keptTrigger(h.event, h.seq, j.cancels) } : {}),
  };
  advance(h, j, run, j.start, [`entry:${h.event.type}`]);
}

export function runEntries(h: RunHost): void {
  for (const j of h.set.entriesByType.get(h.event.type) ?? []) {
    if (j.tenants && !j.tenants.has(h.event.tenant)) continue;
    if (j.entryMatches(h.doc())) enter(h, j, false);
  }
}
