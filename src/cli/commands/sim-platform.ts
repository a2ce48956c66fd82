/**
 * `parley sim-platform`: runs the simulated social platform and webhook receiver (src/sim/sim-platform.ts)
 * in the foreground until SIGINT/SIGTERM. Point channel URLs at it for demos and benchmarks; read what it
 * received at GET /_sim/stats and /_sim/sends.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../obs/logger.js';
import { SimPlatform } from '../../sim/sim-platform.js';
import type { RegisterCommand } from './index.js';

function number(name: string, min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

interface SimFlags {
  host: string;
  port: number;
  rate: number;
  burst?: number;
  failureRate: number;
  latencyMs: number;
  webhookSecret?: string;
  logLevel: string;
}

export const registerSimPlatform: RegisterCommand = (program: Command) => {
  program.addCommand(
    new Command('sim-platform')
      .description(
        'Run a simulated social platform and webhook receiver (per-account rate limits, 429 + Retry-After, ' +
          'injected 5xx and latency, Idempotency-Key) that counts every delivery and duplicate',
      )
      .option('--host <host>', 'listen address (loopback by default)', '127.0.0.1')
      .option('--port <port>', 'listen port (0 picks a free one)', number('--port', 0, 65535), 9000)
      .option('--rate <perSecond>', 'per-account sends per second before 429s', number('--rate', 0.001), 100)
      .option('--burst <n>', 'per-account burst (default: the rate)', number('--burst', 1))
      .option(
        '--failure-rate <share>',
        'share of sends answered 503 (0-1)',
        number('--failure-rate', 0, 1),
        0,
      )
      .option('--latency-ms <ms>', 'added latency per send', number('--latency-ms', 0), 0)
      .option(
        '--webhook-secret <secret>',
        'answer 401 to webhooks whose signature does not verify with this secret',
      )
      .option('--log-level <level>', 'log level', 'info')
      .action(async (flags: SimFlags) => {
        const log = createLogger({ level: flags.logLevel, base: { component: 'sim-platform' } });
        const sim = new SimPlatform({
          host: flags.host,
          port: flags.port,
          perSecond: flags.rate,
          burst: flags.burst ?? Math.max(1, Math.floor(flags.rate)),
          failureRate: flags.failureRate,
          latencyMs: flags.latencyMs,
          webhookSecret: flags.webhookSecret,
          log,
        });
        const url = await sim.start();
        log.info({ url, stats: `${url}/_sim/stats`, sends: `${url}/_sim/sends` }, 'sim platform listening');
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await sim.stop();
        log.info({ stats: sim.stats() }, 'sim platform stopped');
      }),
  );
};
