/**
 * The compiled safety configuration: classifiers built once, durations parsed, tenant and rule overrides
 * merged on first use and cached. Read-only after construction; the gate and the pre-send gate share it.
 */
import type {
  Bridge,
  FanCap,
  OptOutConfirmation,
  QuietHours,
  RuleSafety,
  SafetyConfig,
  TenantSafetyConfig,
} from '../config/safety-schema.js';
import { durationMs } from '../rules/schema.js';
import { abuseClassifier } from './abuse-classifier.js';
import { crisisClassifier } from './crisis-classifier.js';
import type { CompiledFanCap } from './frequency-cap-guard.js';
import type { TextClassifier } from './lexicon.js';
import { optOutClassifier } from './opt-out-classifier.js';
import { revenueObjectionClassifier } from './revenue-objection-classifier.js';
import type { SecondOpinionThresholds } from './second-opinion.js';

export interface TenantPolicy {
  tenant: string;
  timeZone: string;
  quietHours?: QuietHours;
  fanCaps: CompiledFanCap[];
  perTenantPerDay?: number;
  bridges: Bridge[];
  /** The message confirming an opt-out; none unless configured. */
  optOutConfirmation?: OptOutConfirmation;
  rules: Record<string, RuleSafety>;
}

export interface TenantSettings {
  timeZone?: string;
  safety?: TenantSafetyConfig;
}

const compileCaps = (caps: readonly FanCap[]): CompiledFanCap[] =>
  caps.map((c) => ({ channel: c.channel, max: c.max, window: c.window, windowMs: durationMs(c.window) }));

export class SafetyPolicy {
  readonly config: SafetyConfig;
  readonly messageTypes: ReadonlySet<string>;
  readonly classifiers: readonly TextClassifier[];
  readonly modelName: string | undefined;
  /** Thresholds of the offline second opinion; undefined when it is off. */
  readonly secondOpinion: SecondOpinionThresholds | undefined;
  readonly #tenants: Record<string, TenantSettings>;
  readonly #cache = new Map<string, TenantPolicy>();
  readonly #ruleCaps = new Map<string, CompiledFanCap[]>();
  readonly #allCaps = new Map<string, CompiledFanCap[]>();

  constructor(config: SafetyConfig, tenants: Record<string, TenantSettings> = {}) {
    this.config = config;
    this.#tenants = tenants;
    this.messageTypes = new Set(config.messageTypes);
    const c = config.classifiers;
    this.classifiers = [
      crisisClassifier(c.crisis),
      abuseClassifier(c.abuse),
      optOutClassifier({
        enabled: c.optOut.enabled,
        patterns: c.optOut.patterns,
        replaceDefaults: c.optOut.replaceDefaults,
      }),
      revenueObjectionClassifier(c.revenueObjection),
    ];
    this.modelName = config.model.enabled ? `openai:${config.model.model}` : undefined;
    const so = config.secondOpinion;
    this.secondOpinion = so.enabled ? { crisis: so.crisisConfidence, other: so.otherConfidence } : undefined;
  }

  tenant(id: string): TenantPolicy {
    let p = this.#cache.get(id);
    if (p) return p;
    const t = this.#tenants[id] ?? {};
    const s = t.safety;
    const caps = s?.caps ?? this.config.caps;
    const qh = s?.quietHours === false ? undefined : (s?.quietHours ?? this.config.quietHours);
    const confirmation = (s?.optOut?.confirmation ?? this.config.optOut.confirmation) || undefined;
    p = {
      tenant: id,
      timeZone: t.timeZone ?? 'UTC',
      ...(qh ? { quietHours: qh } : {}),
      fanCaps: compileCaps(caps?.perFan ?? []),
      ...(caps?.perTenantPerDay !== undefined ? { perTenantPerDay: caps.perTenantPerDay } : {}),
      bridges: s?.bridges ?? this.config.bridges,
      ...(confirmation ? { optOutConfirmation: confirmation } : {}),
      rules: { ...this.config.rules, ...s?.rules },
    };
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(id, p);
    return p;
  }

  /** Quiet hours for a rule of a tenant: the tenant's, adjusted or replaced by the rule's override. */
  quietHours(t: TenantPolicy, rule: string): QuietHours | undefined {
    const r = t.rules[rule]?.quietHours;
    if (r === false) return undefined;
    if (!r) return t.quietHours;
    const start = r.start ?? t.quietHours?.start;
    const end = r.end ?? t.quietHours?.end;
    if (!start || !end) return undefined;
    return { start, end, mode: r.mode ?? t.quietHours?.mode ?? 'defer' };
  }

  fanCaps(t: TenantPolicy, rule: string): CompiledFanCap[] {
    const r = t.rules[rule]?.caps;
    if (r === undefined) return t.fanCaps;
    if (r === false) return [];
    const key = `${t.tenant}\0${rule}`;
    let caps = this.#ruleCaps.get(key);
    if (!caps) {
      caps = compileCaps(r.perFan);
      this.#ruleCaps.set(key, caps);
    }
    return caps;
  }

  /** Every cap any rule of the tenant may apply (to prune the recorded send times without losing any). */
  allFanCaps(t: TenantPolicy): CompiledFanCap[] {
    let all = this.#allCaps.get(t.tenant);
    if (!all) {
      all = [...t.fanCaps];
      for (const rule of Object.keys(t.rules)) all.push(...this.fanCaps(t, rule));
      this.#allCaps.set(t.tenant, all);
    }
    return all;
  }
}
