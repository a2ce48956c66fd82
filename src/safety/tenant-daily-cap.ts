/**
 * The per-tenant daily send cap, shared by every connector process: one counter per tenant in KV
 * (`parley-tokens`, key `cap.<tenant>`, `{ day, count }`, compare-and-set). A hot key, so each process
 * leases units in batches (up to `lease` per CAS) and spends them locally; leased units a process does not
 * use are lost at the end of the day or process, never re-issued, so the cap is never exceeded. An action
 * takes one unit once (redeliveries of the same action reuse it). The day is the tenant's calendar day.
 */

import type { VersionedStore } from '../contracts/ports.js';
import { FencedError } from '../errors/app-error.js';

export interface CapCounter {
  day: string;
  count: number;
}

interface Local {
  day: string;
  leased: number;
  used: number;
}

export interface TenantDailyCapOptions {
  store: VersionedStore<CapCounter>;
  /** Most units taken per CAS; default 10. */
  lease?: number;
}

export class TenantDailyCap {
  readonly #store: VersionedStore<CapCounter>;
  readonly #lease: number;
  readonly #local = new Map<string, Local>();
  readonly #taken = new Map<string, string>();
  readonly #days = new Map<string, Intl.DateTimeFormat>();

  constructor(options: TenantDailyCapOptions) {
    this.#store = options.store;
    this.#lease = options.lease ?? 10;
  }

  /** The calendar day of `ms` in `zone`, YYYY-MM-DD. */
  day(ms: number, zone: string): string {
    let f = this.#days.get(zone);
    if (!f) {
      f = new Intl.DateTimeFormat('en-CA', {
        timeZone: zone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      });
      this.#days.set(zone, f);
    }
    return f.format(new Date(ms));
  }

  /** Takes one unit of `tenant`'s cap for `actionId`; false when the day's cap is used up. */
  async take(tenant: string, actionId: string, limit: number, now: number, zone: string): Promise<boolean> {
    const day = this.day(now, zone);
    if (this.#taken.get(actionId) === day) return true;
    let local = this.#local.get(tenant);
    if (!local || local.day !== day) {
      local = { day, leased: 0, used: 0 };
      this.#local.set(tenant, local);
    }
    if (local.used >= local.leased) {
      const granted = await this.#leaseMore(tenant, day, limit);
      if (granted === 0) return false;
      local.leased += granted;
    }
    local.used++;
    if (this.#taken.size > 100_000) this.#taken.clear();
    this.#taken.set(actionId, day);
    return true;
  }

  async #leaseMore(tenant: string, day: string, limit: number): Promise<number> {
    const key = `cap.${tenant}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const { value, revision } = await this.#store.load(key);
      const count = value?.day === day ? value.count : 0;
      const grant = Math.min(this.#lease, limit - count);
      if (grant <= 0) return 0;
      try {
        await this.#store.save(key, { day, count: count + grant }, revision);
        return grant;
      } catch (err) {
        if (!(err instanceof FencedError)) throw err;
      }
    }
    throw new Error(`tenant cap ${tenant}: too much contention on ${key}`);
  }
}
