/**
 * The bench harness: runs a scenario against a real nats-server (embedded via the same launcher Parley
 * uses, or NATS_URL) and prints a report. Loops are bounded in count and time; traffic stays on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../src/nats/embedded-server.js';

export interface BenchServer {
  url: string;
  partitions: number;
  stop(): Promise<void>;
}

export async function benchServer(partitions: number): Promise<BenchServer> {
  const external = process.env.NATS_URL;
  if (external) return { url: external, partitions, stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const server = await startNatsServer({
    port: -1,
    storeDir: join(dir, 'store'),
    configPath: join(dir, 'nats.conf'),
    logFile: join(dir, 'nats.log'),
    partitions,
  });
  return {
    url: server.url,
    partitions,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function rssMiB(): number {
  return Math.round((process.memoryUsage().rss / 1024 / 1024) * 10) / 10;
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface BenchReport {
  scenario: string;
  machine: { cpus: number; node: string };
  [key: string]: unknown;
}

export function printReport(report: BenchReport, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [`scenario: ${report.scenario}`];
  const walk = (obj: Record<string, unknown>, indent: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'scenario') continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        lines.push(`${indent}${k}:`);
        walk(v as Record<string, unknown>, `${indent}  `);
      } else lines.push(`${indent}${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
    }
  };
  walk(report, '');
  process.stdout.write(`${lines.join('\n')}\n`);
}
