/**
 * Journeys compiled to a DAG with compile-time checks: every target exists, every step has the edges its
 * kind needs (a wait always has an on_timeout branch), no cycle except through a step bounded by
 * max_visits, every step reachable from the start, and an exit reachable from every step. The version is
 * a content hash of the journey's definition: runs in flight stay on the version they started on.
 */
import { createHash } from 'node:crypto';
import { type CompiledAction, type CompileIssue, compileActions } from './actions.js';
import { compileFilter, type Filter, FilterError, type FilterOptions, type Predicate } from './filter.js';
import { type CompiledCancel, compileCancels } from './pending.js';
import { durationMs, type Journey, type JourneyStep, typesOf } from './schema.js';

export type StepKind = 'action' | 'delay' | 'wait' | 'branch' | 'exit';

export interface CompiledStep {
  id: string;
  kind: StepKind;
  actions: CompiledAction[];
  delayMs: number;
  wait?: { types: ReadonlySet<string>; matches: Predicate; timeoutMs: number };
  cases: Array<{ matches: Predicate; next: string }>;
  /** action/delay: next; branch: otherwise. */
  next?: string;
  onEvent?: string;
  onTimeout?: string;
  exitReason?: string;
  maxVisits?: number;
  /** Delay and wait steps: events that end the run while it rests here (exit `cancelled:<step>`). */
  cancels: CompiledCancel[];
}

export interface CompiledJourney {
  id: string;
  version: string;
  definition: Journey;
  tenants?: ReadonlySet<string>;
  entryTypes: string[];
  entryMatches: Predicate;
  reentry: Journey['reentry'];
  start: string;
  steps: ReadonlyMap<string, CompiledStep>;
  /** `exit_on`: events that end a run wherever it is (exit `exit_on:<type>`). */
  exitOn: CompiledCancel[];
  /** `exit_on` and every step's `cancel_on`. */
  cancels: CompiledCancel[];
  /** Every event type of `cancels`; a run keeps its `/trigger` when non-empty. */
  cancelTypes: ReadonlySet<string>;
}

const KIND_KEYS = ['do', 'delay', 'wait', 'branch', 'exit'] as const;
const KIND_OF: Record<(typeof KIND_KEYS)[number], StepKind> = {
  do: 'action',
  delay: 'delay',
  wait: 'wait',
  branch: 'branch',
  exit: 'exit',
};
/** Edge fields each kind must have (and the only ones it may have). */
const EDGES: Record<StepKind, Array<'next' | 'on_event' | 'on_timeout' | 'otherwise'>> = {
  action: ['next'],
  delay: ['next'],
  wait: ['on_event', 'on_timeout'],
  branch: ['otherwise'],
  exit: [],
};
const ALL_EDGES = ['next', 'on_event', 'on_timeout', 'otherwise'] as const;

export function journeyVersion(definition: Journey): string {
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 12);
}

function filterOrIssue(
  filter: Filter,
  options: FilterOptions,
  path: Array<string | number>,
  issues: CompileIssue[],
): Predicate {
  try {
    return compileFilter(filter, options);
  } catch (err) {
    if (!(err instanceof FilterError)) throw err;
    issues.push({ path: [...path, err.key], message: err.message });
    return () => false;
  }
}

function targetsOf(step: CompiledStep): string[] {
  const out = [step.next, step.onEvent, step.onTimeout, ...step.cases.map((c) => c.next)];
  return out.filter((t): t is string => t !== undefined);
}

/** A cycle among steps without max_visits, as a list of step ids (first repeated at the end), if any. */
function findUnboundedCycle(steps: ReadonlyMap<string, CompiledStep>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const step = steps.get(id);
    if (!step || step.maxVisits !== undefined) return undefined;
    if (state.get(id) === 2) return undefined;
    if (state.get(id) === 1) return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 1);
    stack.push(id);
    for (const t of targetsOf(step)) {
      const cycle = visit(t);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const id of steps.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

function reachableFrom(steps: ReadonlyMap<string, CompiledStep>, start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const id = todo.pop()!;
    if (seen.has(id) || !steps.has(id)) continue;
    seen.add(id);
    todo.push(...targetsOf(steps.get(id)!));
  }
  return seen;
}

/**
 * Compiles and checks one journey. Issues carry paths inside the journey's document (steps.3.next); the
 * journey is returned only when there are none.
 */
export function compileJourney(
  def: Journey,
  options: FilterOptions,
  issues: CompileIssue[],
): CompiledJourney | undefined {
  const before = issues.length;
  const steps = new Map<string, CompiledStep>();
  const indexOf = new Map<string, number>();
  def.steps.forEach((s: JourneyStep, i) => {
    const path = ['steps', i];
    if (steps.has(s.id)) {
      issues.push({ path: [...path, 'id'], message: `step "${s.id}" is defined twice` });
      return;
    }
    const present = KIND_KEYS.filter((k) => s[k] !== undefined);
    if (present.length !== 1) {
      issues.push({
        path,
        message: `a step is exactly one of ${KIND_KEYS.join(', ')}${present.length ? ` (found ${present.join(' and ')})` : ''}`,
      });
      return;
    }
    const kind = KIND_OF[present[0]!];
    for (const edge of ALL_EDGES) {
      const has = s[edge] !== undefined;
      const needed = EDGES[kind].includes(edge);
      if (needed && !has) {
        const message =
          edge === 'on_timeout'
            ? 'every wait needs a timeout branch: add on_timeout'
            : `a ${kind} step needs \`${edge}\``;
        issues.push({ path: [...path, edge], message });
      } else if (has && !needed) {
        issues.push({ path: [...path, edge], message: `\`${edge}\` does not apply to a ${kind} step` });
      }
    }
    const step: CompiledStep = {
      id: s.id,
      kind,
      actions: s.do ? compileActions(s.do, [...path, 'do'], issues) : [],
      delayMs: s.delay ? durationMs(s.delay) : 0,
      cases: (s.branch ?? []).map((c, j) => ({
        matches: filterOrIssue(c.when, options, [...path, 'branch', j, 'when'], issues),
        next: c.next,
      })),
      next: s.next ?? s.otherwise,
      onEvent: s.on_event,
      onTimeout: s.on_timeout,
      exitReason: s.exit === undefined ? undefined : s.exit === true ? 'completed' : s.exit,
      maxVisits: s.max_visits,
      cancels: compileCancels(s.cancel_on, options, [...path, 'cancel_on'], issues),
    };
    if (s.cancel_on !== undefined && kind !== 'delay' && kind !== 'wait')
      issues.push({
        path: [...path, 'cancel_on'],
        message: `\`cancel_on\` applies to delay and wait steps (a run rests only there), not a ${kind} step`,
      });
    if (s.wait) {
      step.wait = {
        types: new Set(typesOf(s.wait.for)),
        matches: filterOrIssue(s.wait.when, options, [...path, 'wait', 'when'], issues),
        timeoutMs: durationMs(s.wait.timeout),
      };
    }
    for (const [j, a] of (s.do ?? []).entries()) {
      if (a.delay)
        issues.push({
          path: [...path, 'do', j, 'delay'],
          message: 'journey actions take no delay: add a delay step before the action',
        });
    }
    steps.set(s.id, step);
    indexOf.set(s.id, i);
  });

  const declared = new Set(def.steps.map((s) => s.id));
  for (const [id, step] of steps) {
    const i = indexOf.get(id)!;
    const edges: Array<[string, string | undefined]> = [
      [step.kind === 'branch' ? 'otherwise' : 'next', step.next],
      ['on_event', step.onEvent],
      ['on_timeout', step.onTimeout],
      ...step.cases.map((c, j) => [`branch.${j}.next`, c.next] as [string, string]),
    ];
    for (const [field, target] of edges) {
      if (target !== undefined && !declared.has(target))
        issues.push({
          path: ['steps', i, ...field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))],
          message: `target step "${target}" does not exist`,
        });
    }
  }

  const start = def.start ?? def.steps[0]!.id;
  if (!declared.has(start)) issues.push({ path: ['start'], message: `start step "${start}" does not exist` });
  const entryMatches = filterOrIssue(def.entry.when, options, ['entry', 'when'], issues);
  const exitOn = compileCancels(def.exit_on, options, ['exit_on'], issues);
  if (issues.length > before) return undefined;

  const cycle = findUnboundedCycle(steps);
  if (cycle) {
    issues.push({
      path: ['steps', indexOf.get(cycle[0]!)!],
      message: `unbounded cycle ${cycle.join(' -> ')}: journeys are DAGs; bound a loop with max_visits on one of its steps`,
    });
  }
  const reachable = reachableFrom(steps, start);
  for (const [id, i] of indexOf) {
    if (!reachable.has(id))
      issues.push({
        path: ['steps', i, 'id'],
        message: `step "${id}" is unreachable from the start step "${start}"`,
      });
  }
  // An exit must be reachable from every step (a max_visits step can end the run, so it counts as one).
  const canExit = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, step] of steps) {
      if (canExit.has(id)) continue;
      if (
        step.kind === 'exit' ||
        step.maxVisits !== undefined ||
        targetsOf(step).some((t) => canExit.has(t))
      ) {
        canExit.add(id);
        changed = true;
      }
    }
  }
  if (![...steps.values()].some((s) => s.kind === 'exit'))
    issues.push({ path: ['steps'], message: 'the journey has no exit step' });
  else
    for (const id of reachable) {
      if (!canExit.has(id))
        issues.push({ path: ['steps', indexOf.get(id)!], message: `no exit is reachable from step "${id}"` });
    }
  if (issues.length > before) return undefined;

  return {
    id: def.id,
    version: journeyVersion(def),
    definition: def,
    tenants: def.tenants ? new Set(def.tenants) : undefined,
    entryTypes: typesOf(def.entry.on),
    entryMatches,
    reentry: def.reentry,
    start,
    steps,
    exitOn,
    cancels: [...exitOn, ...[...steps.values()].flatMap((st) => st.cancels)],
    cancelTypes: new Set(
      [...exitOn, ...[...steps.values()].flatMap((st) => st.cancels)].flatMap((c) => [...c.types]),
    ),
  };
}
