/**
 * CPU time and memory of the processes in an e2e run, from /proc (Linux): Parley, nats-server, this bench
 * process, and the whole machine (so that other work competing for the same cores shows in the report).
 */
import { readFileSync } from 'node:fs';
import { round2 } from './workload.js';

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux (getconf CLK_TCK)

/** CPU time (user + system) of a process so far, in ms; undefined when it is gone or not on Linux. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS; // utime, stime (fields 14, 15)
  } catch {
    return undefined;
  }
}

/** Resident memory now and at its peak (VmRSS, VmHWM), in MiB. */
export function processMemoryMiB(pid: number | undefined): { rss?: number; peak?: number } {
  if (pid === undefined) return {};
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
    };
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return {};
  }
}

/** CPU time the whole machine spent busy so far (every core, every process), in ms, from /proc/stat. */
export function machineBusyMs(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!;
    return busy * CLOCK_TICK_MS;
  } catch {
    return undefined;
  }
}

export interface CpuSnapshot {
  at: number;
  machineBusyMs?: number;
  parleyCpuMs?: number;
  natsCpuMs?: number;
  driverCpuMs: number;
}

export function cpuSnapshot(parleyPid: number | undefined, natsPid: number | undefined): CpuSnapshot {
  const u = process.cpuUsage();
  return {
    at: Date.now(),
    machineBusyMs: machineBusyMs(),
    parleyCpuMs: processCpuMs(parleyPid),
    natsCpuMs: processCpuMs(natsPid),
    driverCpuMs: (u.user + u.system) / 1000,
  };
}

/** CPU ms per event and cores in use between two snapshots, per process. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, events: number) {
  const wall = Math.max(1, b.at - a.at);
  const one = (x?: number, y?: number) =>
    x === undefined || y === undefined
      ? 'n/a'
      : { msPerEvent: round2((y - x) / Math.max(1, events)), cores: round2((y - x) / wall) };
  const ours = (s: CpuSnapshot) => (s.parleyCpuMs ?? 0) + (s.natsCpuMs ?? 0) + s.driverCpuMs;
  const others =
    a.machineBusyMs === undefined || b.machineBusyMs === undefined
      ? 'n/a'
      : round2(Math.max(0, b.machineBusyMs - a.machineBusyMs - (ours(b) - ours(a))) / wall);
  return {
    parley: one(a.parleyCpuMs, b.parleyCpuMs),
    natsServer: one(a.natsCpuMs, b.natsCpuMs),
    benchDriver: one(a.driverCpuMs, b.driverCpuMs),
    /** Cores busy with anything else on the machine meanwhile (other work competes for the same cores). */
    otherProcessesCores: others,
  };
}
