/**
 * The live progress line on stderr: one line rewritten in place once a second. Only when stderr is a
 * terminal and the report is not being written as JSON to stdout; otherwise every call is a no-op, so a
 * CI log or a pipe never fills with carriage returns.
 */
export class Progress {
  readonly enabled: boolean;
  #shown = false;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  static forStderr(json: boolean): Progress {
    return new Progress(Boolean(process.stderr.isTTY) && !json);
  }

  line(text: string): void {
    if (!this.enabled) return;
    const width = process.stderr.columns ?? 120;
    process.stderr.write(`\r\x1b[K${text.slice(0, Math.max(20, width - 1))}`);
    this.#shown = true;
  }

  /** A message on its own line (the progress line is redrawn after it). */
  note(text: string): void {
    if (!this.enabled) return;
    if (this.#shown) process.stderr.write('\r\x1b[K');
    process.stderr.write(`${text}\n`);
  }

  done(): void {
    if (this.enabled && this.#shown) process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}

const fmt = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n));

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

export function progressText(p: {
  system: string;
  phase: string;
  posted: number;
  acked: number;
  delivered: number;
  rate: number;
  p99Ms: number | null;
  etaSeconds: number;
}): string {
  return (
    `[${p.system}] ${p.phase}: sent ${fmt(p.posted)} acked ${fmt(p.acked)} delivered ${fmt(p.delivered)}` +
    ` | ${p.rate}/s | p99 ${p.p99Ms === null ? '-' : `${p.p99Ms} ms`} | ETA ${formatEta(p.etaSeconds)}`
  );
}
