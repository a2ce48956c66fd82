/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and names where the CPU went: self time per function and per
 * area (a package under node_modules, a directory of the project, node internals, GC, idle), as shares of
 * all samples.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  seconds: number;
  /** Share of the profile the process was busy (not idle). */
  busyShare: string;
  /** Self time, as shares of the busy (non-idle) samples, ranked. */
  topFunctions: Record<string, string>;
  byArea: Record<string, string>;
}

function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const project = /\/(src|actors|bench|dist)\/(?:([^/]+)\/)?/.exec(url);
  if (project) return project[2] && !project[2].includes('.') ? `${project[1]}/${project[2]}` : project[1]!;
  return url.split('/').slice(-2).join('/');
}

function short(url: string): string {
  const nm = /node_modules\/(.*)$/.exec(url);
  if (nm) return nm[1]!;
  const project = /\/((?:src|actors|bench|dist)\/.*)$/.exec(url);
  return project ? project[1]! : url.replace(/^file:\/\//, '');
}

const pct = (n: number, total: number) => `${((n / total) * 100).toFixed(1)}%`;

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') idle += us;
    const name = `${functionName || '(anonymous)'} ${url ? `${short(url)}:${lineNumber + 1}` : ''}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busy = total - idle;
  const ranked = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => k !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .reduce<Record<string, string>>((out, [k, us], i) => {
        out[`#${String(i + 1).padStart(2, '0')}`] = `${pct(us, busy)} ${k}`;
        return out;
      }, {});
  return {
    file,
    seconds: Math.round((p.endTime - p.startTime) / 1e5) / 10,
    busyShare: pct(busy, total),
    topFunctions: ranked(fns),
    byArea: ranked(areas),
  };
}

/**
 * The main-thread profile of process `pid` in `dir` (node names them CPU.<date>.<time>.<pid>.<thread>.<seq>;
 * thread 0 is the main thread, others are workers such as a module loader's).
 */
export function mainThreadProfile(dir: string, pid: number): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => new RegExp(`^CPU\\.[\\d.]+?\\.${pid}\\.0\\.\\d+\\.cpuprofile$`).test(f))
    .sort();
  return files.length ? join(dir, files[files.length - 1]!) : undefined;
}
