/**
 * A real nats-server for integration tests and benchmarks, one per call: Debian's nats-server on PATH (port -1,
 * a fresh temporary store, killed and removed in teardown). NATS_URL points everything at an existing server
 * instead (NATS_PARTITIONS tells tests its partition count, default 64). Without either, a reachable Docker
 * engine runs the nats:2.9 image through testcontainers. Missing all three is a loud failure, never a skip.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, type NatsHandles } from '../../src/nats/connection.js';
import { loadDefinitions } from '../../src/nats/definitions.js';
import { findExecutable, startNatsServer } from '../../src/nats/embedded-server.js';
import { NATS_ROLES } from '../../src/nats/permissions.js';
import { applyDefinitions } from '../../src/nats/provision.js';
import { renderServerConfig } from '../../src/nats/server-config.js';
import { ROOT } from './parley.js';

export interface TestNatsOptions {
  /** Partition count of the ingest mapping; default 64. */
  partitions?: number;
  /** Raw nats-server configuration appended to the rendered file. */
  extraConfig?: string;
}

export interface TestNats {
  url: string;
  /** JetStream store directory of a server started here (absent for NATS_URL and containers). */
  storeDir?: string;
  /** Partition count the server maps ingest subjects to. */
  partitions: number;
  stop(): Promise<void>;
}

const DEFAULT_PARTITIONS = 64;

async function startLocal(partitions: number, extraConfig: string | undefined): Promise<TestNats> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-nats-'));
  const storeDir = join(dir, 'store');
  try {
    const server = await startNatsServer({
      port: -1,
      storeDir,
      configPath: join(dir, 'nats.conf'),
      logFile: join(dir, 'nats.log'),
      partitions,
      extraConfig,
    });
    return {
      url: server.url,
      storeDir,
      partitions,
      stop: async () => {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function dockerReachable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainer(partitions: number, extraConfig: string | undefined): Promise<TestNats> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const config = renderServerConfig({
    host: '0.0.0.0',
    port: 4222,
    storeDir: '/data',
    partitions,
    extraConfig,
  });
  const container = await new GenericContainer('nats:2.9')
    .withCopyContentToContainer([{ content: config, target: '/etc/parley/nats.conf' }])
    .withCommand(['-c', '/etc/parley/nats.conf'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return {
    url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
    partitions,
    stop: async () => {
      await container.stop();
    },
  };
}

/** Starts a server without tap (benchmarks); the caller must call stop(). */
export async function startStandaloneNats(opts: TestNatsOptions = {}): Promise<TestNats> {
  const external = process.env.NATS_URL;
  if (external) {
    return {
      url: external,
      partitions: Number(process.env.NATS_PARTITIONS ?? DEFAULT_PARTITIONS),
      stop: async () => {},
    };
  }
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  if (findExecutable('nats-server')) return startLocal(partitions, opts.extraConfig);
  if (await dockerReachable()) return startContainer(partitions, opts.extraConfig);
  throw new Error(
    'no NATS server for the tests: nats-server is not on PATH, NATS_URL is not set and no Docker engine is ' +
      'reachable. Install it (Debian/Ubuntu: sudo apt-get install nats-server, or run scripts/bootstrap.sh), ' +
      'or set NATS_URL=nats://127.0.0.1:4222 to use a running nats-server 2.9+',
  );
}

/** Starts a server for one test file; it is stopped (and its store removed) in `t.teardown`. */
export async function startTestNats(
  t: { teardown(fn: () => unknown): void },
  opts: TestNatsOptions = {},
): Promise<TestNats> {
  const nats = await startStandaloneNats(opts);
  t.teardown(() => nats.stop());
  return nats;
}

export interface RoleUsersNats {
  url: string;
  /** The password of each role user (the admin connection provisioned the streams and buckets). */
  passwords: Record<(typeof NATS_ROLES)[number], string>;
  admin: NatsHandles;
}

/**
 * A real nats-server with the project's accounts and one NATS user per role (src/nats/permissions.ts), the
 * streams and buckets applied as `admin`: for tests that run each role as its own least-privileged user.
 */
export async function startRoleUsersNats(
  t: { teardown(fn: () => unknown): void },
  o: { partitions: number; label: string },
): Promise<RoleUsersNats> {
  const passwords = Object.fromEntries(
    NATS_ROLES.map((r) => [r, `pw-${r}-${o.label}`]),
  ) as RoleUsersNats['passwords'];
  const dir = await mkdtemp(join(tmpdir(), `parley-${o.label}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const server = await startNatsServer({
    port: -1,
    storeDir: join(dir, 'store'),
    configPath: join(dir, 'nats.conf'),
    logFile: join(dir, 'nats.log'),
    partitions: o.partitions,
    authorization: {
      roles: Object.fromEntries(NATS_ROLES.map((r) => [r, { value: passwords[r] }])) as never,
    },
  });
  t.teardown(() => server.stop());
  const admin = await connectNats({
    url: server.url,
    user: 'admin',
    pass: passwords.admin,
    reconnect: false,
  });
  t.teardown(() => admin.nc.close());
  await applyDefinitions(admin, loadDefinitions(join(ROOT, 'streams')), { partitions: o.partitions });
  return { url: server.url, passwords, admin };
}
