/** Flags shared by commands, and the helpers that turn them into a loaded config. */
import type { Command } from 'commander';
import { type LoadedConfig, loadConfig } from '../config/load.js';

export interface CommonFlags {
  config?: string;
  natsUrl?: string;
  json?: boolean;
}

export function withCommonFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (default: $PARLEY_CONFIG or ./parley.yaml)')
    .option('--nats-url <url>', 'NATS server URL (overrides nats.url)');
}

export function loadFromFlags(flags: CommonFlags, overrides: Record<string, unknown> = {}): LoadedConfig {
  const nats = flags.natsUrl ? { nats: { url: flags.natsUrl } } : {};
  const loaded = loadConfig({ file: flags.config, overrides: { ...nats, ...overrides } });
  for (const w of loaded.warnings) process.stderr.write(`parley: warning: ${w}\n`);
  return loaded;
}

/** Prints a result as JSON (--json) or as text lines. */
export function print(flags: { json?: boolean }, value: unknown, text: () => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
