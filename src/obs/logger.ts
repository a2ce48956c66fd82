/**
 * Logger factory: pino JSON logs. No global logger: the composition root creates one and passes children
 * down. Tests pass a capture stream to assert on log lines.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

const SECRET_KEYS = [
  'pass',
  'password',
  'token',
  'tokens',
  'secret',
  'apiKey',
  'authorization',
  'signingSecrets',
];
/** Secret-bearing keys at the top level and up to three levels down. */
export const REDACTED = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'parley', pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach a log line, whatever object they ride in on (config, request headers, errors).
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
