/**
 * Loads rule files, validates them all (every error at once, with file, line and field) and compiles them
 * into a RuleSet: trigger rules and journey entries indexed by event type, filters and templates compiled,
 * journeys checked as DAGs, segments, detectors and schedules. The version is a content hash of the
 * sources and is recorded on every decision. Evaluation itself lives in engine.ts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Cron } from 'croner';
import { lineOf, parseYamlSource, type YamlSource, zodIssues } from '../config/yaml-source.js';
import type { Decider, Evaluation, EvaluationContext } from '../contracts/conversation/decider.js';
import type { ConversationState } from '../contracts/conversation/state.js';
import type { ActionEffect } from '../contracts/effects.js';
import type { EventEnvelope } from '../contracts/envelope.js';
import { ConfigError, type Issue } from '../errors/app-error.js';
import { type CompiledAction, type CompileIssue, compileActions } from './actions.js';
import { evaluateEvent } from './engine.js';
import { compileFilter, type Filter, FilterError, type Predicate, parsePointer } from './filter.js';
import { type CompiledJourney, compileJourney } from './journey.js';
import { type CompiledCancel, type CompiledWindow, compileCancels } from './pending.js';
import {
  type Detectors,
  DetectorsSchema,
  durationMs,
  type Journey,
  JourneySchema,
  type Schedule,
  ScheduleSchema,
  SegmentsSchema,
  type TriggerRule,
  TriggerRuleSchema,
  typesOf,
} from './schema.js';

export interface RuleSource {
  /** Name shown in errors (a path relative to the rules directory). */
  file: string;
  text: string;
}

export interface CompiledRule {
  id: string;
  file: string;
  tenants?: ReadonlySet<string>;
  types: string[];
  matches: Predicate;
  actions?: CompiledAction[];
  variants?: Array<{ id: string; weight: number; actions: CompiledAction[] }>;
  /** `debounce` or `digest`: the rule's sends wait for its window to close. */
  window?: CompiledWindow;
  /** `cancel_on`: events that cancel its pending sends. */
  cancels: CompiledCancel[];
}

export interface CompiledDetectors {
  inactivity: Array<{ id: string; after: string; afterMs: number; resetOn: ReadonlySet<string> }>;
  spend?: { on: ReadonlySet<string>; amount: string[]; milestones: number[] };
  failed?: {
    on: ReadonlySet<string>;
    threshold: number;
    window: string;
    windowMs: number;
    resetOn: ReadonlySet<string>;
  };
}

export interface CompiledSchedule {
  schedule: Schedule;
  file: string;
  segment?: Predicate;
}

/** Journeys of older rule set versions, by `<id>@<version>`, for runs pinned to them. */
export type JourneyArchive = Map<string, CompiledJourney>;

export class RuleSet implements Decider {
  readonly version: string;
  readonly sources: readonly RuleSource[];
  readonly rules: readonly CompiledRule[];
  readonly journeys: ReadonlyMap<string, CompiledJourney>;
  readonly segments: ReadonlyMap<string, Predicate>;
  readonly detectors: CompiledDetectors;
  readonly schedules: readonly CompiledSchedule[];
  readonly archive: JourneyArchive;
  readonly rulesByType: ReadonlyMap<string, CompiledRule[]>;
  readonly entriesByType: ReadonlyMap<string, CompiledJourney[]>;
  /** Rules with a `cancel_on` for the event type. */
  readonly cancelsByType: ReadonlyMap<string, CompiledRule[]>;
  /** Event types something in this set reacts to: rule triggers, journey entries and waits, detectors. */
  readonly #consumed = new Set<string>();
  /** Every definition as canonical JSON lines, by `<kind>:<id>` (for `parley rules diff`). */
  readonly definitions: ReadonlyArray<{ key: string; lines: string[] }>;

  constructor(parts: {
    version: string;
    sources: RuleSource[];
    rules: CompiledRule[];
    journeys: Map<string, CompiledJourney>;
    segments: Map<string, Predicate>;
    detectors: CompiledDetectors;
    schedules: CompiledSchedule[];
    definitions?: Array<{ key: string; lines: string[] }>;
  }) {
    this.version = parts.version;
    this.definitions = parts.definitions ?? [];
    this.sources = parts.sources;
    this.rules = parts.rules;
    this.journeys = parts.journeys;
    this.segments = parts.segments;
    this.detectors = parts.detectors;
    this.schedules = parts.schedules;
    this.archive = new Map();
    for (const j of parts.journeys.values()) this.archive.set(`${j.id}@${j.version}`, j);
    const byType = new Map<string, CompiledRule[]>();
    for (const r of parts.rules) for (const t of r.types) byType.set(t, [...(byType.get(t) ?? []), r]);
    this.rulesByType = byType;
    const cancels = new Map<string, CompiledRule[]>();
    for (const r of parts.rules)
      for (const t of new Set(r.cancels.flatMap((c) => [...c.types])))
        cancels.set(t, [...(cancels.get(t) ?? []), r]);
    this.cancelsByType = cancels;
    for (const t of cancels.keys()) this.#consumed.add(t);
    const entries = new Map<string, CompiledJourney[]>();
    for (const j of parts.journeys.values())
      for (const t of j.entryTypes) entries.set(t, [...(entries.get(t) ?? []), j]);
    this.entriesByType = entries;
    for (const t of byType.keys()) this.#consumed.add(t);
    for (const t of entries.keys()) this.#consumed.add(t);
    for (const j of parts.journeys.values()) this.#consumeWaits(j);
    const d = parts.detectors;
    for (const x of d.inactivity) for (const t of x.resetOn) this.#consumed.add(t);
    for (const t of d.spend?.on ?? []) this.#consumed.add(t);
    for (const t of d.failed?.on ?? []) this.#consumed.add(t);
    for (const t of d.failed?.resetOn ?? []) this.#consumed.add(t);
  }

  #consumeWaits(j: CompiledJourney): void {
    for (const step of j.steps.values()) for (const t of step.wait?.types ?? []) this.#consumed.add(t);
    for (const t of j.cancelTypes) this.#consumed.add(t);
  }

  /**
   * Whether any rule, journey (current or pinned by a run in flight) or detector of this set reacts to
   * events of `type`. The connectors report `action.sent` into EVENTS only when it does (see
   * ActionEffect.reportSent): an outcome nothing waits on costs two writes and a second actor pass.
   */
  consumes(type: string): boolean {
    return this.#consumed.has(type);
  }

  /** Keeps older versions' journeys available for runs pinned to them (the current ones win). */
  adoptArchive(older: Iterable<CompiledJourney>): void {
    for (const j of older) {
      const key = `${j.id}@${j.version}`;
      if (!this.archive.has(key)) {
        this.archive.set(key, j);
        this.#consumeWaits(j);
      }
    }
  }

  /** The journey a run is pinned to: its id at its version. */
  journeyAt(id: string, version: string): CompiledJourney | undefined {
    return this.archive.get(`${id}@${version}`);
  }

  evaluate(event: EventEnvelope, state: ConversationState, ctx: EvaluationContext): Evaluation {
    return evaluateEvent(this, event, state, ctx);
  }

  decide(event: EventEnvelope, state: ConversationState): ActionEffect[] {
    return this.evaluate(event, state, { seq: 0, now: Date.parse(event.occurredAt) }).proposals;
  }
}

/** The rule files of a directory (recursively), skipping *.test.yaml cases. Sorted for a stable version. */
export function readRuleDir(dir: string): RuleSource[] {
  const out: RuleSource[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name) && !/\.test\.ya?ml$/.test(name)) {
        out.push({ file: relative(dir, path), text: readFileSync(path, 'utf8') });
      }
    }
  };
  walk(dir);
  return out;
}

export function ruleSetVersion(sources: readonly RuleSource[]): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update(s.file).update('\0').update(s.text).update('\0');
  return hash.digest('hex').slice(0, 12);
}

type Parsed =
  | { kind: 'rule'; src: YamlSource; doc: TriggerRule }
  | { kind: 'journey'; src: YamlSource; doc: Journey }
  | { kind: 'segments'; src: YamlSource; doc: { segments: Record<string, Filter> } }
  | { kind: 'detectors'; src: YamlSource; doc: Detectors }
  | { kind: 'schedule'; src: YamlSource; doc: Schedule };

const SCHEMAS = {
  rule: TriggerRuleSchema,
  journey: JourneySchema,
  segments: SegmentsSchema,
  detectors: DetectorsSchema,
  schedule: ScheduleSchema,
} as const;

function at(src: YamlSource, path: ReadonlyArray<string | number>, message: string): Issue {
  const line = lineOf(src, path);
  const field = path.join('.');
  return { path: `${src.file}${line ? `:${line}` : ''}${field ? ` ${field}` : ''}`, message };
}

function filterOrIssue(
  filter: Filter,
  segments: ReadonlyMap<string, Predicate>,
  src: YamlSource,
  path: Array<string | number>,
  issues: Issue[],
): Predicate {
  try {
    return compileFilter(filter, { segments });
  } catch (err) {
    if (!(err instanceof FilterError)) throw err;
    issues.push(at(src, [...path, err.key], err.message));
    return () => false;
  }
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function parseSources(sources: RuleSource[], issues: Issue[]): Parsed[] {
  const parsed: Parsed[] = [];
  for (const s of sources) {
    const { source, issues: yamlIssues } = parseYamlSource(s.file, s.text);
    if (yamlIssues.length > 0) {
      issues.push(...yamlIssues);
      continue;
    }
    const raw = source.doc.toJS() as unknown;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      issues.push({
        path: s.file,
        message: 'a rule file holds one mapping (a rule, journey, segments, detectors or schedule)',
      });
      continue;
    }
    const kind = ((raw as { kind?: unknown }).kind ?? 'rule') as string;
    if (!(kind in SCHEMAS)) {
      issues.push(at(source, ['kind'], `unknown kind "${kind}"; one of ${Object.keys(SCHEMAS).join(', ')}`));
      continue;
    }
    const result = SCHEMAS[kind as keyof typeof SCHEMAS].safeParse(raw);
    if (!result.success) {
      issues.push(...zodIssues(source, result.error));
      continue;
    }
    parsed.push({ kind, src: source, doc: result.data } as Parsed);
  }
  return parsed;
}

function compileSegments(parsed: Parsed[], issues: Issue[]): Map<string, Predicate> {
  const segments = new Map<string, Predicate>();
  for (const p of parsed) {
    if (p.kind !== 'segments') continue;
    for (const [name, filter] of Object.entries(p.doc.segments)) {
      if (segments.has(name)) {
        issues.push(at(p.src, ['segments', name], `segment "${name}" is defined twice`));
        continue;
      }
      segments.set(name, filterOrIssue(filter, segments, p.src, ['segments', name], issues));
    }
  }
  return segments;
}

function compileDetectors(parsed: Parsed[], issues: Issue[]): CompiledDetectors {
  const out: CompiledDetectors = { inactivity: [] };
  let seen: YamlSource | undefined;
  for (const p of parsed) {
    if (p.kind !== 'detectors') continue;
    if (seen) {
      issues.push(at(p.src, ['kind'], `detectors are configured once; also in ${seen.file}`));
      continue;
    }
    seen = p.src;
    const d = p.doc;
    const ids = new Set<string>();
    for (const [i, x] of d.inactivity.entries()) {
      if (ids.has(x.id))
        issues.push(at(p.src, ['inactivity', i, 'id'], `detector "${x.id}" is defined twice`));
      ids.add(x.id);
      out.inactivity.push({
        id: x.id,
        after: x.after,
        afterMs: durationMs(x.after),
        resetOn: new Set(typesOf(x.reset_on)),
      });
    }
    if (d.spend)
      out.spend = {
        on: new Set(typesOf(d.spend.on)),
        amount: parsePointer(d.spend.amount),
        milestones: [...d.spend.milestones].sort((a, b) => a - b),
      };
    if (d.failed_conversion)
      out.failed = {
        on: new Set(typesOf(d.failed_conversion.on)),
        threshold: d.failed_conversion.threshold,
        window: d.failed_conversion.window,
        windowMs: durationMs(d.failed_conversion.window),
        resetOn: new Set(typesOf(d.failed_conversion.reset_on)),
      };
  }
  return out;
}

function compileRule(
  p: Extract<Parsed, { kind: 'rule' }>,
  segments: Map<string, Predicate>,
  issues: Issue[],
): CompiledRule {
  const r = p.doc;
  const compileIssues: CompileIssue[] = [];
  const window: CompiledWindow | undefined = r.debounce
    ? {
        kind: 'debounce',
        windowMs: durationMs(r.debounce.window),
        ...(r.debounce.max ? { maxMs: durationMs(r.debounce.max) } : {}),
      }
    : r.digest
      ? { kind: 'digest', windowMs: durationMs(r.digest.window), maxEvents: r.digest.max_events }
      : undefined;
  const rule: CompiledRule = {
    ...(window ? { window } : {}),
    cancels: compileCancels(r.cancel_on, { segments }, ['cancel_on'], compileIssues),
    id: r.id,
    file: p.src.file,
    tenants: r.tenants ? new Set(r.tenants) : undefined,
    types: typesOf(r.on),
    matches: filterOrIssue(r.when, segments, p.src, ['when'], issues),
    actions: r.do ? compileActions(r.do, ['do'], compileIssues) : undefined,
    variants: r.variants?.map((v, i) => ({
      id: v.id,
      weight: v.weight,
      actions: compileActions(v.do, ['variants', i, 'do'], compileIssues),
    })),
  };
  for (const c of compileIssues) issues.push(at(p.src, c.path, c.message));
  return rule;
}

function compileSchedule(
  p: Extract<Parsed, { kind: 'schedule' }>,
  segments: Map<string, Predicate>,
  issues: Issue[],
): CompiledSchedule {
  const s = p.doc;
  if (s.timezone !== undefined && !validTimeZone(s.timezone))
    issues.push(
      at(p.src, ['timezone'], `unknown time zone "${s.timezone}" (use an IANA name like Europe/Paris)`),
    );
  try {
    new Cron(s.cron, {
      paused: true,
      timezone: s.timezone && validTimeZone(s.timezone) ? s.timezone : undefined,
    });
  } catch (err) {
    issues.push(
      at(p.src, ['cron'], `invalid cron expression: ${err instanceof Error ? err.message : String(err)}`),
    );
  }
  let segment: Predicate | undefined;
  if (s.segment !== undefined) {
    segment = segments.get(s.segment);
    if (!segment) issues.push(at(p.src, ['segment'], `unknown segment "${s.segment}"`));
  }
  return { schedule: s, file: p.src.file, segment };
}

/** Compiles sources into a RuleSet; throws one ConfigError listing every issue (file:line field: message). */
export function compileRuleSet(sources: RuleSource[]): RuleSet {
  const issues: Issue[] = [];
  const parsed = parseSources(sources, issues);
  const segments = compileSegments(parsed, issues);
  const detectors = compileDetectors(parsed, issues);
  const rules: CompiledRule[] = [];
  const journeys = new Map<string, CompiledJourney>();
  const schedules: CompiledSchedule[] = [];
  const ids = new Map<string, string>();
  const claim = (p: Parsed, kind: string, id: string) => {
    const key = `${kind}:${id}`;
    const previous = ids.get(key);
    if (previous) issues.push(at(p.src, ['id'], `${kind} id "${id}" is also defined in ${previous}`));
    ids.set(key, p.src.file);
  };
  const definitions: Array<{ key: string; lines: string[] }> = [];
  for (const p of parsed) {
    const key =
      p.kind === 'segments' || p.kind === 'detectors' ? `${p.kind}:${p.src.file}` : `${p.kind}:${p.doc.id}`;
    definitions.push({ key, lines: JSON.stringify(p.doc, null, 1).split('\n') });
    if (p.kind === 'rule') {
      claim(p, 'rule', p.doc.id);
      const rule = compileRule(p, segments, issues);
      if (p.doc.enabled) rules.push(rule);
    } else if (p.kind === 'journey') {
      claim(p, 'journey', p.doc.id);
      const compileIssues: CompileIssue[] = [];
      const journey = compileJourney(p.doc, { segments }, compileIssues);
      for (const c of compileIssues) issues.push(at(p.src, c.path, c.message));
      if (journey && p.doc.enabled) journeys.set(journey.id, journey);
    } else if (p.kind === 'schedule') {
      claim(p, 'schedule', p.doc.id);
      const schedule = compileSchedule(p, segments, issues);
      if (p.doc.enabled) schedules.push(schedule);
    }
  }
  if (issues.length > 0)
    throw new ConfigError(`invalid rules (${issues.length} issue${issues.length > 1 ? 's' : ''})`, issues);
  return new RuleSet({
    version: ruleSetVersion(sources),
    sources,
    rules,
    journeys,
    segments,
    detectors,
    schedules,
    definitions,
  });
}

export function loadRuleSet(dir: string): RuleSet {
  return compileRuleSet(readRuleDir(dir));
}
