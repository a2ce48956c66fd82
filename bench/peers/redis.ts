/**
 * A Redis server for the BullMQ peers: Debian's redis-server on a free loopback port, its data in a
 * temporary directory, AOF on with fsync every second (the durability comparable to a JetStream file
 * store without sync_interval: acknowledged writes survive a process crash, not a power loss), no RDB
 * snapshots. Stopped by its PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../e2e/parley-child.js';

export interface RedisServer {
  url: string;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

function ping(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.setTimeout(1000, () => s.destroy());
    s.on('connect', () => s.write('INFO server\r\n'));
    s.on('data', (b) => {
      text += b.toString();
      if (text.includes('redis_version')) {
        s.destroy();
        resolve(/redis_version:([^\r\n]+)/.exec(text)?.[1]);
      }
    });
    s.on('error', () => resolve(undefined));
    s.on('close', () => resolve(undefined));
  });
}

export async function startRedis(dir: string): Promise<RedisServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (proc.pid === undefined) throw new Error('bench: could not start redis-server');
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-2000);
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 20_000;
  let version = await ping(port);
  while (!version) {
    if (proc.exitCode !== null) throw new Error(`bench: redis-server exited at start: ${err}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('bench: redis-server did not answer within 20 s');
    }
    await new Promise((r) => setTimeout(r, 100));
    version = await ping(port);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid,
    version,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
