/**
 * `parley rules validate|test|push|list|diff`: rule sets as data. validate and test work offline on a
 * directory; push stores a new version in the rules bucket (running workers switch without a restart; a
 * set that does not validate changes nothing) and records the push in AUDIT; list and diff read the bucket.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ParleyConfig } from '../../config/schema.js';
import { encode } from '../../envelope/codec.js';
import { SCHEMA_VERSION } from '../../envelope/envelope.js';
import { ConfigError, type Issue, ValidationError } from '../../errors/app-error.js';
import { KvRuleRepository, RULES_BUCKET } from '../../nats/rules-bucket.js';
import { channelIssues } from '../../rules/channel-check.js';
import { diffRuleSets, loadStoredRuleSet, pushRuleSet, type RuleDiff } from '../../rules/repository.js';
import {
  compileRuleSet,
  loadRuleSet,
  type RuleSet,
  type RuleSource,
  readRuleDir,
} from '../../rules/rule-set.js';
import { runTestCases } from '../../rules/test-cases.js';
import {
  type CommonFlags,
  loadFromFlags,
  type OperatorFlags,
  operatorFromFlags,
  print,
  withCommonFlags,
  withOperatorFlags,
} from '../options.js';
import { withNatsSession } from '../with-nats.js';
import type { RegisterCommand } from './index.js';

function summary(set: RuleSet): Record<string, unknown> {
  return {
    version: set.version,
    rules: set.rules.map((r) => r.id),
    journeys: [...set.journeys.values()].map((j) => `${j.id}@${j.version}`),
    segments: [...set.segments.keys()],
    detectors: set.detectors.inactivity
      .map((d) => d.id)
      .concat(set.detectors.spend ? ['spend'] : [], set.detectors.failed ? ['failed_conversion'] : []),
    schedules: set.schedules.map((s) => s.schedule.id),
  };
}

function diffText(d: RuleDiff): string {
  const lines = [`${d.from} -> ${d.to}`];
  for (const a of d.added) lines.push(`+ ${a}`);
  for (const r of d.removed) lines.push(`- ${r}`);
  for (const c of d.changed) lines.push(`~ ${c.id}`, ...c.lines.map((l) => `    ${l}`));
  if (lines.length === 1) lines.push('no differences');
  return lines.join('\n');
}

/** The rules directory to use; a missing one is a usage error naming the fix, not an ENOENT. */
export function ruleDir(dir: string | undefined, config: ParleyConfig, argument = 'dir'): string {
  const d = dir ? resolve(dir) : config.rules;
  if (!existsSync(d) || !statSync(d).isDirectory())
    throw new ConfigError(`rules directory not found: ${d}`, [
      {
        path: dir ? argument : 'rules',
        message: dir
          ? 'pass an existing directory of rule YAML files'
          : 'set rules: in parley.yaml (or PARLEY_RULES) to a directory of rule YAML files',
      },
    ]);
  return d;
}

const dirOf = (dir: string | undefined, flags: CommonFlags) => ruleDir(dir, loadFromFlags(flags).config);

/**
 * Compiles a directory and checks its channels, reporting every problem of both at once (a rule set with a
 * syntax error in one file and an unconfigured channel in another gets one answer naming both).
 */
function validateRules(files: RuleSource[], config: ParleyConfig): RuleSet {
  const issues: Issue[] = [];
  let set: RuleSet | undefined;
  try {
    set = compileRuleSet(files);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.push(...err.issues);
  }
  const channels = Object.keys(config.tenants).length === 0 ? [] : channelIssues(files, config.tenants);
  if (Object.keys(config.tenants).length === 0)
    process.stderr.write('parley: channels not checked: the config has no tenants (tenants.<id>.channels)\n');
  if (set && channels.length > 0)
    throw new ConfigError(
      `rules send on channels no tenant configures (${channels.length} action${channels.length > 1 ? 's' : ''})`,
      channels,
    );
  issues.push(...channels);
  if (issues.length > 0 || !set)
    throw new ConfigError(`invalid rules (${issues.length} issue${issues.length === 1 ? '' : 's'})`, issues);
  return set;
}

export const registerRules: RegisterCommand = (program: Command) => {
  const rules = program
    .command('rules')
    .description('Validate, test, push, list and diff rule sets (rules as data)');

  withCommonFlags(rules.command('validate'))
    .description(
      'Validate a rules directory: every issue at once with file, line and field, including actions on ' +
        'channels no tenant of the config configures',
    )
    .argument('[dir]', "rules directory (default: the config's rules)")
    .option('--json', 'print as JSON')
    .action((dir: string | undefined, flags: CommonFlags) => {
      const { config } = loadFromFlags(flags);
      const set = validateRules(readRuleDir(ruleDir(dir, config)), config);
      const s = summary(set);
      print(
        flags,
        s,
        () =>
          `ok: version ${set.version}: ${set.rules.length} rules, ${set.journeys.size} journeys, ${set.segments.size} segments, ${set.schedules.length} schedules`,
      );
    });

  withCommonFlags(rules.command('test'))
    .description('Run the *.test.yaml cases of a rules directory (events in, expected decisions out)')
    .argument('[dir]', "rules directory (default: the config's rules)")
    .option('--json', 'print as JSON')
    .action((dir: string | undefined, flags: CommonFlags) => {
      const d = dirOf(dir, flags);
      const results = runTestCases(loadRuleSet(d), d);
      const failed = results.filter((r) => !r.ok);
      print(flags, results, () =>
        [
          ...results.map(
            (r) =>
              `${r.ok ? 'ok  ' : 'FAIL'} ${r.file}: ${r.name}${r.ok ? '' : `\n       ${r.problems.join('\n       ')}`}`,
          ),
          `${results.length - failed.length} passed, ${failed.length} failed`,
        ].join('\n'),
      );
      if (failed.length > 0) process.exitCode = 1;
    });

  withOperatorFlags(withCommonFlags(rules.command('push')))
    .description(
      'Validate a rules directory (channels included, as validate does) and store it as the current version; ' +
        'running workers switch to it',
    )
    .argument('[dir]', "rules directory (default: the config's rules)")
    .option('--json', 'print as JSON')
    .action(async (dir: string | undefined, flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      // A rule set applies to every tenant: pushing it takes an unscoped rules-admin.
      const by = operatorFromFlags(config, flags, 'rules-admin', null).name;
      const files = readRuleDir(ruleDir(dir, config));
      validateRules(files, config); // fail before touching NATS
      const result = await withNatsSession(config, async (h) => {
        const repo = new KvRuleRepository(await h.kvm.open(RULES_BUCKET));
        const pushed = await pushRuleSet(repo, files, { by });
        if (pushed.changed) {
          const id = `rules-push.${pushed.version}`;
          await h.js.publish(
            'audit.rules._system._rules',
            encode({
              schema: SCHEMA_VERSION,
              id,
              kind: 'rules',
              action: 'push',
              by,
              at: new Date().toISOString(),
              ...pushed,
            }),
            { msgID: id },
          );
        }
        return pushed;
      });
      print(flags, result, () =>
        result.changed
          ? `pushed ${result.version}${result.previous ? ` (was ${result.previous})` : ''}`
          : `unchanged: ${result.version} is already current`,
      );
    });

  withOperatorFlags(withCommonFlags(rules.command('list')))
    .description('List the rule set versions in the rules bucket, marking the current one')
    .option('--json', 'print as JSON')
    .action(async (flags: CommonFlags & OperatorFlags) => {
      const { config } = loadFromFlags(flags);
      operatorFromFlags(config, flags, 'viewer');
      const rows = await withNatsSession(config, async (h) => {
        const repo = new KvRuleRepository(await h.kvm.open(RULES_BUCKET));
        const current = await repo.current();
        const out = [];
        for (const v of await repo.versions()) {
          const s = await repo.get(v);
          out.push({
            version: v,
            pushedAt: s?.pushedAt,
            pushedBy: s?.pushedBy,
            files: s?.files.length ?? 0,
            current: v === current?.pointer.version,
          });
        }
        return out.sort((a, b) => String(a.pushedAt).localeCompare(String(b.pushedAt)));
      });
      print(flags, rows, () =>
        rows.length === 0
          ? 'no rule set pushed yet (workers use the rules directory)'
          : rows
              .map(
                (r) =>
                  `${r.current ? '*' : ' '} ${r.version}  ${r.pushedAt}  by ${r.pushedBy ?? 'unknown'}  ${r.files} files`,
              )
              .join('\n'),
      );
    });

  withOperatorFlags(withCommonFlags(rules.command('diff')))
    .description('What changed: a directory against the current pushed version, or two pushed versions')
    .argument('[dir]', "rules directory (default: the config's rules)")
    .option('--from <version>', 'base version (default: the current one)')
    .option('--to <version>', 'compare with this pushed version instead of a directory')
    .option('--json', 'print as JSON')
    .action(
      async (
        dir: string | undefined,
        flags: CommonFlags & OperatorFlags & { from?: string; to?: string },
      ) => {
        const { config } = loadFromFlags(flags);
        operatorFromFlags(config, flags, 'viewer');
        const diff = await withNatsSession(config, async (h) => {
          const repo = new KvRuleRepository(await h.kvm.open(RULES_BUCKET));
          const fromVersion = flags.from ?? (await repo.current())?.pointer.version;
          if (!fromVersion)
            throw new ValidationError('nothing pushed yet: push first or pass --from', [
              { path: '--from', message: 'required' },
            ]);
          const from = await loadStoredRuleSet(repo, fromVersion);
          const to = flags.to ? await loadStoredRuleSet(repo, flags.to) : loadRuleSet(ruleDir(dir, config));
          return diffRuleSets(from, to);
        });
        print(flags, diff, () => diffText(diff));
      },
    );
};
