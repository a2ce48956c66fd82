/**
 * Wall-clock time in a fan's IANA time zone, with the platform's Intl data (no time-zone library): the local
 * minute of the day for an instant, and the next instant a local time is reached (DST-aware: the candidate
 * is corrected by the zone's offset at the candidate itself). Formatters are cached per zone in the instance.
 */
export class LocalTime {
  readonly #formats = new Map<string, Intl.DateTimeFormat | null>();

  /** A usable zone, or undefined (unknown to this platform's Intl data). */
  #format(zone: string): Intl.DateTimeFormat | undefined {
    let f = this.#formats.get(zone);
    if (f === undefined) {
      try {
        f = new Intl.DateTimeFormat('en-US', {
          timeZone: zone,
          hourCycle: 'h23',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        });
      } catch {
        f = null;
      }
      if (this.#formats.size > 1000) this.#formats.clear();
      this.#formats.set(zone, f);
    }
    return f ?? undefined;
  }

  isValidZone(zone: string): boolean {
    return this.#format(zone) !== undefined;
  }

  /** Seconds since local midnight at `ms` in `zone` (the zone must be valid). */
  secondOfDay(ms: number, zone: string): number {
    const parts = this.#format(zone)!.formatToParts(new Date(ms));
    let h = 0;
    let m = 0;
    let s = 0;
    for (const p of parts) {
      if (p.type === 'hour') h = Number(p.value);
      else if (p.type === 'minute') m = Number(p.value);
      else if (p.type === 'second') s = Number(p.value);
    }
    return h * 3600 + m * 60 + s;
  }

  /**
   * The first instant at or after `ms` whose local time in `zone` is outside [start, end) (minutes of the
   * day; the range may span midnight). Returns `ms` itself when it already is.
   */
  nextOutside(ms: number, zone: string, startMin: number, endMin: number): number {
    if (!inWindow(this.secondOfDay(ms, zone) / 60, startMin, endMin)) return ms;
    const base = Math.floor(ms / 1000) * 1000;
    let candidate = base + ((((endMin * 60 - this.secondOfDay(base, zone)) % 86400) + 86400) % 86400) * 1000;
    // DST: the local clock may have jumped between now and the candidate; correct by the observed difference.
    for (let i = 0; i < 3; i++) {
      const diff = endMin * 60 - this.secondOfDay(candidate, zone);
      if (diff === 0) break;
      const wrapped = ((((diff + 43200) % 86400) + 86400) % 86400) - 43200;
      candidate += wrapped * 1000;
    }
    // A local time skipped by a DST gap never occurs: step forward until outside the window.
    for (let i = 0; i < 96 && inWindow(this.secondOfDay(candidate, zone) / 60, startMin, endMin); i++) {
      candidate += 15 * 60_000;
    }
    return Math.max(candidate, ms);
  }
}

/** Whether minute-of-day `m` lies in [start, end), a window that may span midnight. Empty when start == end. */
export function inWindow(m: number, start: number, end: number): boolean {
  if (start === end) return false;
  return start < end ? m >= start && m < end : m >= start || m < end;
}

export function parseHhMm(s: string): number {
  const [h, m] = s.split(':').map(Number);
  return h! * 60 + m!;
}
