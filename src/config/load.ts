/**
 * The one config loader and the only reader of process.env. Precedence: flags (overrides) > PARLEY_*
 * environment > file > schema defaults. The result is parsed, defaulted and frozen once.
 *
 * Environment keys: PARLEY_<SECTION>__<KEY> with `__` between levels and SNAKE_CASE mapped to camelCase,
 * e.g. PARLEY_NATS__URL, PARLEY_HTTP__PORT, PARLEY_RUNTIME__MAX_IN_FLIGHT, PARLEY_PARTITIONS.
 * Values are parsed as JSON when they are valid JSON (numbers, booleans), else taken as strings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type Issue } from '../errors/app-error.js';
import { operatorDeprecations } from '../http/operators.js';
import { type ParleyConfig, ParleySchema } from './schema.js';
import { parseYamlSource, type YamlSource, zodIssues } from './yaml-source.js';

export interface LoadConfigOptions {
  /** Explicit config file (from --config); falls back to PARLEY_CONFIG, then ./parley.yaml if present. */
  file?: string;
  /** Environment to read PARLEY_* from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, as a partial config tree; they win over everything. */
  overrides?: Record<string, unknown>;
  /** Directory relative paths resolve against; default process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  config: ParleyConfig;
  /** The file the config came from, if any. */
  file: string | undefined;
  /** Problems that do not stop loading (unknown PARLEY_* variables), for the caller to print. */
  warnings: string[];
}

function hasPath(tree: Tree, path: readonly string[]): boolean {
  let node: unknown = tree;
  for (const seg of path) {
    if (!isTree(node) || !(seg in node)) return false;
    node = node[seg];
  }
  return true;
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isTree(v) && isTree(out[k]) ? merge(out[k] as Tree, v) : v;
  }
  return out;
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** One PARLEY_* variable and the config path it sets. */
export interface EnvSetting {
  variable: string;
  path: string[];
  value: unknown;
}

/** PARLEY_* variables that are not config keys but are read by the loader or the tooling around it. */
const NOT_SETTINGS = new Set(['PARLEY_CONFIG']);

export function envSettings(env: NodeJS.ProcessEnv): EnvSetting[] {
  const out: EnvSetting[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith('PARLEY_') || NOT_SETTINGS.has(variable) || raw === undefined) continue;
    const path = variable.slice('PARLEY_'.length).split('__').map(camel);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the string
    }
    out.push({ variable, path, value });
  }
  return out;
}

function treeOf(settings: readonly EnvSetting[]): Tree {
  const out: Tree = {};
  for (const { path, value } of settings) {
    let node = out;
    for (const segment of path.slice(0, -1)) {
      if (!isTree(node[segment])) node[segment] = {};
      node = node[segment] as Tree;
    }
    node[path[path.length - 1]!] = value;
  }
  return out;
}

export function envOverrides(env: NodeJS.ProcessEnv): Tree {
  return treeOf(envSettings(env));
}

interface SchemaNode {
  _zod: { def: { type: string; innerType?: unknown; in?: unknown; valueType?: unknown; shape?: unknown } };
  shape?: Record<string, unknown>;
}

/** Whether `path` names a key of the config schema (records take any key; unions and the like any rest). */
export function isConfigPath(path: readonly string[], schema: unknown = ParleySchema): boolean {
  let node = schema as SchemaNode;
  for (let i = 0; ; ) {
    const def = node._zod.def;
    if (
      def.type === 'default' ||
      def.type === 'optional' ||
      def.type === 'nullable' ||
      def.type === 'prefault'
    ) {
      node = def.innerType as SchemaNode;
      continue;
    }
    if (def.type === 'pipe') {
      node = def.in as SchemaNode;
      continue;
    }
    if (i === path.length) return true;
    if (def.type === 'object') {
      const next = node.shape?.[path[i]!];
      if (!next) return false;
      node = next as SchemaNode;
      i++;
      continue;
    }
    if (def.type === 'record') {
      node = def.valueType as SchemaNode;
      i++;
      continue;
    }
    // A leaf (string, number, enum, array) has no keys below it; a union may have any.
    return def.type === 'union';
  }
}

function deepFreeze<T>(value: T): T {
  if (isTree(value) || Array.isArray(value)) {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.PARLEY_CONFIG;
  let file: string | undefined;
  if (explicit) {
    file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
  } else if (existsSync(resolve(cwd, 'parley.yaml'))) {
    file = resolve(cwd, 'parley.yaml');
  }

  let fromFile: Tree = {};
  let source: YamlSource | undefined;
  if (file) {
    const parsed = parseYamlSource(file, readFileSync(file, 'utf8'));
    if (parsed.issues.length > 0) throw new ConfigError(`${file} is not valid YAML`, parsed.issues);
    source = parsed.source;
    const js = source.doc.toJS() as unknown;
    if (js !== null && js !== undefined && !isTree(js)) {
      throw new ConfigError(`${file} must hold a mapping of settings`, [
        { path: file, message: 'not a mapping' },
      ]);
    }
    fromFile = (js as Tree | null) ?? {};
  }

  // A PARLEY_* variable that is no config key is reported, not fatal (it may belong to other tooling).
  const warnings: string[] = [];
  const settings = envSettings(env).filter((e) => {
    if (isConfigPath(e.path)) return true;
    warnings.push(
      `${e.variable} is not a Parley setting and is ignored (settings are PARLEY_<SECTION>__<KEY>, ` +
        'e.g. PARLEY_NATS__URL or PARLEY_HTTP__PORT; see README "Configuration")',
    );
    return false;
  });
  const overrides = options.overrides ?? {};
  const merged = merge(merge(fromFile, treeOf(settings)), overrides);
  const result = ParleySchema.safeParse(merged);
  if (!result.success) {
    // An issue under a path an environment variable set (and no flag overrode) is blamed on the variable.
    const fromEnv = (path: readonly PropertyKey[]): EnvSetting | undefined =>
      settings.find(
        (e) =>
          path.length > 0 &&
          e.path.every((seg, i) => i >= path.length || String(path[i]) === seg) &&
          !hasPath(overrides, e.path),
      );
    const issues: Issue[] = result.error.issues.flatMap((issue): Issue[] => {
      const setting = fromEnv(issue.path);
      if (setting)
        return [
          {
            path: `${setting.variable}=${JSON.stringify(setting.value)} (environment)`,
            message: issue.message,
          },
        ];
      if (source) return zodIssues(source, new z.ZodError([issue]));
      return [{ path: issue.path.join('.'), message: issue.message }];
    });
    throw new ConfigError(
      `invalid configuration${file ? ` in ${file}` : ''} (env PARLEY_* and flags included)`,
      issues,
    );
  }
  const config = result.data;
  config.dataDir = resolve(cwd, config.dataDir);
  config.rules = resolve(cwd, config.rules);
  config.streams = resolve(cwd, config.streams);
  warnings.push(...operatorDeprecations(config));
  return { config: deepFreeze(config), file, warnings };
}

/** Parses "all" or "0-15,32" into a sorted list of partition numbers below `count`. */
export function parsePartitionSet(spec: string, count: number): number[] {
  if (spec.trim() === 'all') return Array.from({ length: count }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!m)
      throw new ConfigError(`invalid partition set "${spec}"`, [
        { path: 'runtime.partitions', message: `cannot read "${part}"; use ranges like 0-15,32` },
      ]);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to >= count) {
      throw new ConfigError(`invalid partition set "${spec}"`, [
        { path: 'runtime.partitions', message: `${part} is outside 0-${count - 1}` },
      ]);
    }
    for (let p = from; p <= to; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}
