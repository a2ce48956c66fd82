/**
 * Loads rule files, validates them all (every error at once, with file, line and field) and compiles them
 * into a RuleSet: rules indexed by event type, filters compiled to predicates, and a content-derived
 * version recorded on every decision.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Decider } from '../../actors/conversation/conversation-actor.js';
import type { ConversationState } from '../../actors/conversation/state.js';
import type { ActionEffect } from '../../actors/effects.js';
import { parseYamlSource, zodIssues } from '../config/yaml-source.js';
import type { EventEnvelope } from '../envelope/envelope.js';
import { ConfigError, type Issue } from '../errors/app-error.js';
import { compileFilter, type Predicate } from './filter.js';
import { durationMs, type TriggerRule, TriggerRuleSchema } from './schema.js';

export interface RuleSource {
  /** Name shown in errors (a path relative to the rules directory). */
  file: string;
  text: string;
}

interface CompiledRule {
  rule: TriggerRule;
  matches: Predicate;
  actions: Array<Omit<ActionEffect, 'rule'>>;
}

export class RuleSet implements Decider {
  readonly version: string;
  readonly rules: readonly TriggerRule[];
  readonly #byType: Map<string, CompiledRule[]>;

  constructor(rules: TriggerRule[], version: string) {
    this.rules = rules;
    this.version = version;
    this.#byType = new Map();
    for (const rule of rules) {
      if (!rule.enabled) continue;
      const compiled: CompiledRule = {
        rule,
        matches: compileFilter(rule.when),
        actions: rule.do.map((a) => ({
          type: 'action' as const,
          channel: a.channel,
          template: a.template,
          variables: a.variables,
          ...(a.delay ? { delayMs: durationMs(a.delay) } : {}),
        })),
      };
      for (const type of Array.isArray(rule.on) ? rule.on : [rule.on]) {
        const list = this.#byType.get(type) ?? [];
        list.push(compiled);
        this.#byType.set(type, list);
      }
    }
  }

  decide(event: EventEnvelope, state: ConversationState): ActionEffect[] {
    const candidates = this.#byType.get(event.type);
    if (!candidates) return [];
    const doc = { event, conversation: state };
    const out: ActionEffect[] = [];
    for (const c of candidates) {
      if (!c.matches(doc)) continue;
      for (const a of c.actions) out.push({ ...a, rule: c.rule.id });
    }
    return out;
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

export function compileRuleSet(sources: RuleSource[]): RuleSet {
  const issues: Issue[] = [];
  const rules: TriggerRule[] = [];
  const seen = new Map<string, string>();
  for (const src of sources) {
    const { source, issues: yamlIssues } = parseYamlSource(src.file, src.text);
    if (yamlIssues.length > 0) {
      issues.push(...yamlIssues);
      continue;
    }
    const result = TriggerRuleSchema.safeParse(source.doc.toJS());
    if (!result.success) {
      issues.push(...zodIssues(source, result.error));
      continue;
    }
    const previous = seen.get(result.data.id);
    if (previous)
      issues.push({
        path: `${src.file} id`,
        message: `rule id "${result.data.id}" is also defined in ${previous}`,
      });
    seen.set(result.data.id, src.file);
    rules.push(result.data);
  }
  if (issues.length > 0)
    throw new ConfigError(`invalid rules (${issues.length} issue${issues.length > 1 ? 's' : ''})`, issues);
  const hash = createHash('sha256');
  for (const s of sources) hash.update(s.file).update('\0').update(s.text).update('\0');
  return new RuleSet(rules, hash.digest('hex').slice(0, 12));
}

export function loadRuleSet(dir: string): RuleSet {
  return compileRuleSet(readRuleDir(dir));
}
