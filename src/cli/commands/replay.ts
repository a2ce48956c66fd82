/**
 * `parley replay --rules <dir>`: evaluates a rule set over the events in EVENTS with no side effects and
 * reports what would have happened, with a diff against the current rules (the pushed version, else the
 * configured directory). Nothing is published and no state is written: reading uses an ordered consumer.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ValidationError } from '../../errors/app-error.js';
import { type Bound, readEvents } from '../../nats/event-reader.js';
import { KvRuleRepository, RULES_BUCKET } from '../../nats/rules-bucket.js';
import { replayEvents, replayText } from '../../rules/replay.js';
import { loadStoredRuleSet } from '../../rules/repository.js';
import { loadRuleSet, type RuleSet } from '../../rules/rule-set.js';
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
import { ruleDir } from './rules.js';

export function parseBound(flag: string, value: string | undefined): Bound | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return { seq: Number(value) };
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new ValidationError(`invalid ${flag}`, [
      { path: flag, message: 'a stream sequence or an ISO-8601 time' },
    ]);
  return { time };
}

interface ReplayFlags extends CommonFlags, OperatorFlags {
  rules: string;
  tenant?: string;
  from?: string;
  to?: string;
  out?: string;
  baseline?: boolean;
}

export const registerReplay: RegisterCommand = (program: Command) => {
  withOperatorFlags(withCommonFlags(program.command('replay')))
    .description(
      'Evaluate a rule set over historical events (no side effects) and diff against the current rules',
    )
    .requiredOption('--rules <dir>', 'rules directory to evaluate')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--from <seq|time>', 'first EVENTS sequence or ISO time')
    .option('--to <seq|time>', 'last EVENTS sequence or ISO time (default: the end of the stream now)')
    .option('--no-baseline', 'skip the comparison with the current rules')
    .option('--out <file>', 'also write the full JSON report here')
    .option('--json', 'print the full report as JSON')
    .action(async (flags: ReplayFlags) => {
      const { config } = loadFromFlags(flags);
      // Replay reads every tenant's events unless --tenant limits it.
      operatorFromFlags(config, flags, 'rules-admin', flags.tenant ?? null);
      const candidate = loadRuleSet(ruleDir(flags.rules, config, '--rules'));
      const range = {
        tenant: flags.tenant,
        from: parseBound('--from', flags.from),
        to: parseBound('--to', flags.to),
      };
      const report = await withNatsSession(config, async (h) => {
        let baseline: RuleSet | undefined;
        if (flags.baseline !== false) {
          const repo = new KvRuleRepository(await h.kvm.open(RULES_BUCKET));
          const current = await repo.current();
          baseline = current
            ? await loadStoredRuleSet(repo, current.pointer.version)
            : loadRuleSet(config.rules);
        }
        return replayEvents(readEvents(h, range), {
          candidate,
          baseline,
          until: range.to && 'time' in range.to ? range.to.time : undefined,
          range: Object.fromEntries(
            Object.entries(flags).filter(([k]) => ['tenant', 'from', 'to'].includes(k)),
          ),
        });
      });
      if (flags.out) writeFileSync(flags.out, `${JSON.stringify(report, null, 2)}\n`);
      print(flags, report, () => replayText(report));
    });
};
