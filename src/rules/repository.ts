/**
 * Published rule sets: the repository port (KV bucket `parley-rules` in src/nats/rules-bucket.ts) and the
 * operations on it that `parley rules push|list|diff` and the workers share. A push validates the whole set
 * first: a set that does not compile changes nothing. Versions are content hashes; every pushed version is
 * kept (`sets.<version>`) so journeys in flight can finish on the version they started on.
 */
import { ConfigError } from '../errors/app-error.js';
import { compileRuleSet, type RuleSet, type RuleSource } from './rule-set.js';

export interface StoredRuleSet {
  version: string;
  pushedAt: string;
  pushedBy?: string;
  files: RuleSource[];
}

export interface CurrentPointer {
  version: string;
  pushedAt: string;
  previous?: string;
}

export interface RuleRepository {
  current(): Promise<{ pointer: CurrentPointer; revision: number } | undefined>;
  get(version: string): Promise<StoredRuleSet | undefined>;
  versions(): Promise<string[]>;
  store(set: StoredRuleSet): Promise<void>;
  /** Compare-and-set on the pointer: fails (ConfigError) if someone pushed meanwhile. */
  setCurrent(pointer: CurrentPointer, expectedRevision: number): Promise<void>;
  /** Calls `onChange` with each new current version (and once with the one current when it starts). */
  watchCurrent(onChange: (pointer: CurrentPointer) => void): Promise<{ stop(): void }>;
}

export interface PushResult {
  version: string;
  previous?: string;
  changed: boolean;
}

export async function pushRuleSet(
  repo: RuleRepository,
  files: RuleSource[],
  options: { by?: string; now?: Date } = {},
): Promise<PushResult> {
  const set = compileRuleSet(files); // throws ConfigError: nothing is written
  const current = await repo.current();
  if (current?.pointer.version === set.version)
    return { version: set.version, previous: set.version, changed: false };
  const pushedAt = (options.now ?? new Date()).toISOString();
  await repo.store({
    version: set.version,
    pushedAt,
    ...(options.by ? { pushedBy: options.by } : {}),
    files,
  });
  await repo.setCurrent(
    { version: set.version, pushedAt, ...(current ? { previous: current.pointer.version } : {}) },
    current?.revision ?? 0,
  );
  return { version: set.version, previous: current?.pointer.version, changed: true };
}

export async function loadStoredRuleSet(repo: RuleRepository, version: string): Promise<RuleSet> {
  const stored = await repo.get(version);
  if (!stored) throw new ConfigError(`rule set version ${version} is not in the rules bucket`);
  return compileRuleSet(stored.files);
}

export interface RuleDiff {
  from: string;
  to: string;
  added: string[];
  removed: string[];
  changed: Array<{ id: string; lines: string[] }>;
}

/** Definitions by `<kind>:<id>` (segments and detectors by file) as canonical JSON lines. */
function definitions(set: RuleSet): Map<string, string[]> {
  return new Map(set.definitions.map((d) => [d.key, d.lines]));
}

/** What changed between two rule sets, by rule, journey, segment, detectors and schedule. */
export function diffRuleSets(from: RuleSet, to: RuleSet): RuleDiff {
  const a = definitions(from);
  const b = definitions(to);
  const diff: RuleDiff = { from: from.version, to: to.version, added: [], removed: [], changed: [] };
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(key);
    const y = b.get(key);
    if (!x) diff.added.push(key);
    else if (!y) diff.removed.push(key);
    else if (x.join('\n') !== y.join('\n')) {
      const lines = [
        ...x.filter((l) => !y.includes(l)).map((l) => `- ${l.trim()}`),
        ...y.filter((l) => !x.includes(l)).map((l) => `+ ${l.trim()}`),
      ];
      diff.changed.push({ id: key, lines });
    }
  }
  return diff;
}
