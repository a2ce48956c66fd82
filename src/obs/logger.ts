/**
 * Logger factory: pino logs, JSON lines by default and human-readable (pino-pretty, in-process and
 * synchronous: no worker thread, works in the single-file build) when asked or when `format: 'auto'` finds a
 * terminal. No global logger: the composition root creates one and passes children down. Tests pass a
 * capture stream to assert on log lines.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** `json`: one JSON object per line; `pretty`: coloured text; `auto`: pretty on a TTY, else json. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; default stdout. A stream given here gets JSON unless `format` is `pretty`. */
  destination?: DestinationStream | NodeJS.WritableStream;
  base?: Record<string, unknown>;
  /** Default `json` when a destination is given, else `auto`. */
  format?: LogFormat;
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

function isTty(destination: LoggerOptions['destination']): boolean {
  if (destination === undefined) return process.stdout.isTTY === true;
  return (destination as { isTTY?: boolean }).isTTY === true;
}

/** Whether `format` resolves to pretty output for this destination. */
export function prettyFor(format: LogFormat, destination?: LoggerOptions['destination']): boolean {
  return format === 'pretty' || (format === 'auto' && isTty(destination));
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (options.destination ? 'json' : 'auto');
  const fd = options.destination === process.stderr ? 2 : 1;
  const destination: DestinationStream = prettyFor(format, options.destination)
    ? pretty({
        colorize: isTty(options.destination),
        sync: true,
        destination: options.destination && options.destination !== process.stderr ? options.destination : fd,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        singleLine: true,
      })
    : ((options.destination as DestinationStream | undefined) ?? pino.destination({ fd: 1, sync: false }));
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'parley', pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach a log line, whatever object they ride in on (config, request headers, errors).
      redact: { paths: REDACTED, censor: '[redacted]' },
    },
    destination,
  );
}
