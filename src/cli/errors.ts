/**
 * How the CLI reports a failure: one line naming what is wrong and the fix (a list only when several
 * problems are reported at once), or with --json one JSON object on stdout, `{ error: { code, message,
 * issues } }`, so a script reading stdout gets a parseable answer either way. Exit codes: 2 for a usage
 * error (bad flags, arguments, config or rules: the caller must change its input), 1 for a failure.
 * The stack trace of an unexpected error is printed only with DEBUG=parley.
 */
import { CommanderError } from 'commander';
import { z } from 'zod';
import { AppError, ConfigError, type Issue, ValidationError } from '../errors/app-error.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliFailure {
  code: string;
  /** The headline: what is wrong, and where there is one obvious fix, the fix. */
  message: string;
  issues: Issue[];
  exitCode: number;
  stack?: string;
}

function headline(err: Error): string {
  return err.message.split('\n')[0] ?? err.message;
}

/** A file system error (ENOENT, EACCES, …) as "cannot read <path>: <reason>". */
function systemError(err: NodeJS.ErrnoException): CliFailure | undefined {
  if (typeof err.code !== 'string' || !err.syscall) return undefined;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory; check the path',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory; check the path',
    EISDIR: 'is a directory; pass a file',
  };
  const what = err.path ? `cannot ${err.syscall === 'open' ? 'read' : err.syscall} ${err.path}` : err.syscall;
  return {
    code: err.code,
    message: `${what}: ${reasons[err.code] ?? err.message}`,
    issues: [],
    exitCode: EXIT_FAILURE,
  };
}

export function describeFailure(err: unknown): CliFailure {
  if (err instanceof CommanderError) {
    return {
      code: 'USAGE',
      message: err.message.replace(/^error: /, ''),
      issues: [],
      exitCode: EXIT_USAGE,
    };
  }
  if (err instanceof ConfigError || err instanceof ValidationError) {
    return { code: err.code, message: headline(err), issues: [...err.issues], exitCode: EXIT_USAGE };
  }
  if (err instanceof z.ZodError) {
    return {
      code: 'VALIDATION_FAILED',
      message: 'invalid arguments',
      issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      exitCode: EXIT_USAGE,
    };
  }
  if (err instanceof AppError)
    return { code: err.code, message: err.message, issues: [], exitCode: EXIT_FAILURE };
  if (err instanceof Error) {
    const system = systemError(err as NodeJS.ErrnoException);
    if (system) return system;
    return {
      code: 'UNEXPECTED',
      message: err.message,
      issues: [],
      exitCode: EXIT_FAILURE,
      ...(err.stack ? { stack: err.stack } : {}),
    };
  }
  return { code: 'UNEXPECTED', message: String(err), issues: [], exitCode: EXIT_FAILURE };
}

/** The human form: one line, or a headline and one line per issue. */
export function failureText(f: CliFailure, debug: boolean): string {
  const issue = (i: Issue) => `${i.path ? `${i.path}: ` : ''}${i.message}`;
  const lines =
    f.issues.length === 1
      ? [`parley: ${f.message}: ${issue(f.issues[0]!)}`]
      : [`parley: ${f.message}`, ...f.issues.map((i) => `  - ${issue(i)}`)];
  if (f.code === 'UNEXPECTED' && f.stack) {
    lines.push(debug ? f.stack : '  (DEBUG=parley prints the stack trace)');
  }
  return `${lines.join('\n')}\n`;
}

export function failureJson(f: CliFailure): string {
  return `${JSON.stringify({ error: { code: f.code, message: f.message, issues: f.issues } }, null, 2)}\n`;
}
