/**
 * Parley's error taxonomy. Subclasses name the decision the runtime takes, not where the error came from:
 * retryable -> retry with backoff; terminal -> dead-letter; config/validation -> refuse with every issue listed.
 * Codes are stable SCREAMING_SNAKE strings that logs, metrics and API responses carry.
 */
export interface AppErrorOptions {
  code: string;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;

  constructor(message: string, options: AppErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
  }
}

/** A failure that may succeed if tried again later (timeouts, NATS unavailable, 429/5xx). */
export class RetryableError extends AppError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: Partial<AppErrorOptions> & { retryAfterMs?: number } = {}) {
    super(message, { code: options.code ?? 'RETRYABLE', cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A failure that will fail the same way every time: dead-letter it, do not retry. */
export class TerminalError extends AppError {
  constructor(message: string, options: Partial<AppErrorOptions> = {}) {
    super(message, { code: options.code ?? 'TERMINAL', cause: options.cause });
  }
}

export interface Issue {
  /** Where the problem is: a file, a line, a dotted field path, whichever apply. */
  path: string;
  message: string;
}

function formatIssues(headline: string, issues: readonly Issue[]): string {
  return [headline, ...issues.map((i) => `  - ${i.path ? `${i.path}: ` : ''}${i.message}`)].join('\n');
}

/** Bad configuration: lists every issue at once, each with its file, line and field. */
export class ConfigError extends AppError {
  readonly issues: readonly Issue[];

  constructor(headline: string, issues: readonly Issue[] = [], cause?: unknown) {
    super(formatIssues(headline, issues), { code: 'CONFIG_INVALID', cause });
    this.issues = issues;
  }
}

/** Bad input data (an event, a request body): lists every field at fault. */
export class ValidationError extends AppError {
  readonly issues: readonly Issue[];

  constructor(headline: string, issues: readonly Issue[] = [], cause?: unknown) {
    super(formatIssues(headline, issues), { code: 'VALIDATION_FAILED', cause });
    this.issues = issues;
  }
}

/** Another process owns what this one tried to write: stop touching it (fencing). */
export class FencedError extends AppError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'FENCED', cause });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
