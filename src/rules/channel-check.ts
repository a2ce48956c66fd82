/**
 * Rules against the deployment's channels: every action a rule or journey proposes names a channel, and a
 * channel is only served where a tenant configures it (`tenants.<t>.channels` in parley.yaml). An action on a
 * channel its tenant does not configure is dead-lettered at send time (`channel_not_configured`); this module
 * reports such rules before that happens:
 *   - `channelIssues`: actions whose channel no tenant the rule applies to configures — `parley rules
 *     validate` and `rules push` refuse them (one issue per action, with file, line and field);
 *   - `channelGapsByTenant`: per tenant, the actions that tenant would have dead-lettered — start-up warns once
 *     per tenant.
 * Pure: reads the rule sources (for lines) and the tenants' channel maps, nothing else.
 */
import { lineOf, parseYamlSource } from '../config/yaml-source.js';
import type { Issue } from '../errors/app-error.js';
import type { RuleSource } from './rule-set.js';

/** One action of a rule or journey step, where it is written. */
export interface ChannelUse {
  kind: 'rule' | 'journey';
  /** Rule or journey id. */
  id: string;
  file: string;
  line: number | undefined;
  /** Field path of the action's `channel`, e.g. `variants.0.do.1.channel`. */
  field: string;
  channel: string;
  /** Tenants the rule is limited to; undefined: every tenant. */
  tenants: readonly string[] | undefined;
}

/** What the check needs of each tenant's config: the channels it configures. */
export type TenantChannels = Readonly<Record<string, { channels: Readonly<Record<string, unknown>> }>>;

type Tree = Record<string, unknown>;

const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The actions of enabled rules and journeys in `sources` (files that do not parse are skipped). */
export function channelUses(sources: readonly RuleSource[]): ChannelUse[] {
  const out: ChannelUse[] = [];
  for (const s of sources) {
    const { source, issues } = parseYamlSource(s.file, s.text);
    if (issues.length > 0) continue;
    const doc = source.doc.toJS() as unknown;
    if (!isTree(doc) || doc.enabled === false) continue;
    const kind = doc.kind ?? 'rule';
    if ((kind !== 'rule' && kind !== 'journey') || typeof doc.id !== 'string') continue;
    const tenants = Array.isArray(doc.tenants) ? doc.tenants.map(String) : undefined;
    const actions = (list: unknown, path: Array<string | number>) => {
      if (!Array.isArray(list)) return;
      for (const [i, a] of list.entries()) {
        if (!isTree(a) || typeof a.channel !== 'string') continue;
        const at = [...path, i, 'channel'];
        out.push({
          kind,
          id: doc.id as string,
          file: s.file,
          line: lineOf(source, at),
          field: at.join('.'),
          channel: a.channel,
          tenants,
        });
      }
    };
    if (kind === 'rule') {
      actions(doc.do, ['do']);
      if (Array.isArray(doc.variants))
        for (const [v, variant] of doc.variants.entries())
          if (isTree(variant)) actions(variant.do, ['variants', v, 'do']);
    } else if (Array.isArray(doc.steps)) {
      for (const [i, step] of doc.steps.entries()) if (isTree(step)) actions(step.do, ['steps', i, 'do']);
    }
  }
  return out;
}

/** The configured tenants a use applies to (its `tenants` list, or all). */
function applicable(use: ChannelUse, tenants: TenantChannels): string[] {
  const all = Object.keys(tenants);
  return use.tenants ? use.tenants.filter((t) => all.includes(t)) : all;
}

const configures = (tenants: TenantChannels, tenant: string, channel: string) =>
  tenants[tenant]?.channels[channel] !== undefined;

function configuredAnywhere(tenants: TenantChannels): string[] {
  return [...new Set(Object.values(tenants).flatMap((t) => Object.keys(t.channels)))].sort();
}

/**
 * One issue per action whose channel no applicable tenant configures. Empty when no tenant is configured
 * at all (nothing to check against: a rules directory validated without a deployment config).
 */
export function channelIssues(sources: readonly RuleSource[], tenants: TenantChannels): Issue[] {
  if (Object.keys(tenants).length === 0) return [];
  const known = configuredAnywhere(tenants);
  const issues: Issue[] = [];
  for (const use of channelUses(sources)) {
    const scope = applicable(use, tenants);
    if (scope.some((t) => configures(tenants, t, use.channel))) continue;
    const who = use.tenants
      ? `tenant ${scope.length > 0 ? scope.join(', ') : '(none configured)'}`
      : 'tenant';
    issues.push({
      path: `${use.file}${use.line ? `:${use.line}` : ''} ${use.field}`,
      message:
        `${use.kind} "${use.id}" sends on channel "${use.channel}", which no ${who} configures ` +
        `(configured: ${known.length > 0 ? known.join(', ') : 'none'}): its actions would be dead-lettered; ` +
        'configure the channel under tenants.<tenant>.channels in parley.yaml',
    });
  }
  return issues;
}

/** Per tenant, the actions it would dead-letter for want of the channel (only tenants with any). */
export function channelGapsByTenant(
  sources: readonly RuleSource[],
  tenants: TenantChannels,
): Map<string, ChannelUse[]> {
  const gaps = new Map<string, ChannelUse[]>();
  for (const use of channelUses(sources)) {
    for (const tenant of applicable(use, tenants)) {
      if (configures(tenants, tenant, use.channel)) continue;
      gaps.set(tenant, [...(gaps.get(tenant) ?? []), use]);
    }
  }
  return gaps;
}

/** Logs one warning per tenant whose rules name channels it does not configure. */
export function warnChannelGaps(
  sources: readonly RuleSource[],
  tenants: TenantChannels,
  log: { warn(obj: object, msg: string): void },
): void {
  for (const [tenant, uses] of channelGapsByTenant(sources, tenants)) {
    log.warn(
      {
        tenant,
        configured: Object.keys(tenants[tenant]?.channels ?? {}),
        actions: uses.map((u) => ({
          [u.kind]: u.id,
          file: `${u.file}${u.line ? `:${u.line}` : ''}`,
          channel: u.channel,
        })),
      },
      `rules send on channels tenant ${tenant} does not configure; those actions will be dead-lettered (channel_not_configured)`,
    );
  }
}
