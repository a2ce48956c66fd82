/**
 * Peer dependencies, on demand: bench/peers/ has its own package.json and lock, installed into
 * bench/peers/node_modules the first time a peer is asked for (never Parley's own dependencies, never in
 * its bundle), and Debian's redis-server installed with apt-get when missing and allowed (root).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function peersDir(root: string): string {
  return join(root, 'bench', 'peers');
}

function run(cmd: string, args: string[], cwd: string): number {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status ?? 1;
}

/** Installs bench/peers/node_modules from its lock when `module` is not there yet. */
export function ensurePeerModules(root: string, module: string, note: (s: string) => void): void {
  const dir = peersDir(root);
  if (existsSync(join(dir, 'node_modules', module, 'package.json'))) return;
  note(`bench: installing the peers' dependencies into ${join(dir, 'node_modules')} (first use)`);
  // --ignore-scripts: no install scripts run (telemetry, optional native builds); the peers need none.
  const flags = ['--no-audit', '--no-fund', '--ignore-scripts'];
  if (run('npm', ['ci', ...flags], dir) !== 0 && run('npm', ['install', ...flags], dir) !== 0)
    throw new Error(`bench: could not install the peers' dependencies (npm ci in ${dir} failed)`);
  if (!existsSync(join(dir, 'node_modules', module, 'package.json')))
    throw new Error(`bench: ${module} is still missing from ${join(dir, 'node_modules')} after install`);
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Debian's redis-server on PATH, installed with apt-get when missing and this process is root. */
export function ensureRedisServer(note: (s: string) => void): void {
  if (onPath('redis-server')) return;
  if (process.getuid?.() === 0 && onPath('apt-get')) {
    note("bench: installing Debian's redis-server package");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const q = (args: string[]) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    q(['update', '-qq']);
    q(['install', '-y', '-qq', '--no-install-recommends', 'redis-server']);
  }
  if (!onPath('redis-server'))
    throw new Error(
      'bench: redis-server is not on PATH; install it (Debian: sudo apt-get install redis-server)',
    );
}
