/**
 * Scheduled automation: for each schedule of the current rule set and each tenant it applies to, the cron
 * expression (croner) in the tenant's time zone gives the runs; a run that is due (and not older than
 * `catch_up`) publishes its event to every conversation of the tenant in the schedule's segment, in batches
 * of `batch.size` at `batch.per_second`. Event IDs are `sched.<id>.<run time>.<conversation>`, so a run
 * repeated by a second scheduler or after a crash lands in the duplicate window; the last finished run per
 * schedule and tenant is recorded so a restart does not repeat it.
 */
import { Cron } from 'croner';
import type { ConversationState } from '../contracts/conversation/state.js';
import { type EventEnvelope, SCHEMA_VERSION } from '../contracts/envelope.js';
import type { Logger } from '../obs/logger.js';
import type { RuleSet } from './rule-set.js';
import { durationMs } from './schema.js';

export interface SchedulerPorts {
  /** Every stored conversation state of a tenant. */
  conversations(tenant: string): AsyncIterable<ConversationState>;
  publish(event: EventEnvelope): Promise<void>;
  /** Last finished run (ms) of a schedule for a tenant, and recording it. */
  lastRun(key: string): Promise<number | undefined>;
  recordRun(key: string, at: number): Promise<void>;
  sleep(ms: number): Promise<void>;
}

export interface SchedulerOptions {
  rules: () => RuleSet;
  /** Tenant id -> IANA time zone. */
  tenants: Record<string, string>;
  ports: SchedulerPorts;
  log: Logger;
  now?: () => number;
}

/** The most recent run of `cron` at or before `now` and after `since`, in `timeZone`. */
export function dueRun(cron: string, timeZone: string, since: number, now: number): number | undefined {
  const job = new Cron(cron, { paused: true, timezone: timeZone });
  let last: number | undefined;
  let next = job.nextRun(new Date(since));
  while (next && next.getTime() <= now) {
    last = next.getTime();
    next = job.nextRun(next);
  }
  return last;
}

export class Scheduler {
  readonly #o: SchedulerOptions;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** One pass: fires every run that is due. Returns the events published. */
  async tick(): Promise<number> {
    const now = (this.#o.now ?? Date.now)();
    const set = this.#o.rules();
    let published = 0;
    for (const { schedule: s, segment } of set.schedules) {
      for (const [tenant, tz] of Object.entries(this.#o.tenants)) {
        if (s.tenants && !s.tenants.includes(tenant)) continue;
        const key = `${s.id}.${tenant}`;
        const since = (await this.#o.ports.lastRun(key)) ?? now - durationMs(s.catch_up);
        const run = dueRun(s.cron, s.timezone ?? tz, Math.max(since, now - durationMs(s.catch_up)), now);
        if (run === undefined) continue;
        let batch: EventEnvelope[] = [];
        const flush = async () => {
          await Promise.all(batch.map((e) => this.#o.ports.publish(e)));
          published += batch.length;
          batch = [];
          await this.#o.ports.sleep((1000 * s.batch.size) / s.batch.per_second);
        };
        for await (const state of this.#o.ports.conversations(tenant)) {
          if (segment && !segment({ profile: state.profile ?? {}, conversation: state, now: run })) continue;
          batch.push({
            schema: SCHEMA_VERSION,
            id: `sched.${s.id}.${run}.${state.conversation}`,
            type: s.event,
            tenant,
            conversation: state.conversation,
            occurredAt: new Date(run).toISOString(),
            attributes: { ...s.attributes, schedule: s.id },
          });
          if (batch.length >= s.batch.size) await flush();
        }
        if (batch.length > 0) await flush();
        await this.#o.ports.recordRun(key, run);
        this.#o.log.info({ schedule: s.id, tenant, run: new Date(run).toISOString() }, 'schedule fired');
      }
    }
    return published;
  }
}
