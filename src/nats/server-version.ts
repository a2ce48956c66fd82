/**
 * What Parley needs from the nats-server version it connects to. Refuses servers that cannot run it at all
 * (below 2.9.0: no partition() subject mapping) and warns, once each, about known limits of older 2.9.x
 * releases. The thresholds come from the server's release notes and were checked against 2.9.10.
 */
import { ConfigError } from '../errors/app-error.js';

export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface ServerVersionCheck {
  version: string;
  warnings: string[];
}

export const MIN_SERVER_VERSION = '2.9.0';

/** Parses "2.9.10", "v2.10.23" or "2.11.0-RC.1"; undefined when it is not a version. */
export function parseServerVersion(text: string): ServerVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** Negative when a < b, zero when equal, positive when a > b. */
export function compareVersions(a: ServerVersion, b: ServerVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function below(v: ServerVersion, text: string): boolean {
  return compareVersions(v, parseServerVersion(text)!) < 0;
}

const WARNINGS: ReadonlyArray<{ below: string; message: string }> = [
  {
    below: '2.9.21',
    message:
      'KV compare-and-set is unsafe on replicated (R3) buckets before nats-server 2.9.21: keep the parley-* ' +
      'buckets at one replica, or upgrade',
  },
  {
    below: '2.9.23',
    message:
      'nats-server before 2.9.23 has an authentication bypass (CVE-2023-47090) with some mixes of ' +
      'authorization and accounts blocks: upgrade before exposing it beyond localhost',
  },
  {
    below: '2.10.0',
    message:
      'nats-server 2.9 has no JetStream sync_interval: acknowledged writes survive a process crash but can be ' +
      'lost on power failure; use 2.10.23+ with "sync_interval: always" where that matters',
  },
];

/**
 * Checks the version a server reports (`nc.info`). Throws ConfigError below 2.9.0; logs each warning that
 * applies through `log.warn` and returns them.
 */
export function checkServerVersion(
  info: { version: string },
  log: { warn(obj: object, msg: string): void },
): ServerVersionCheck {
  const version = parseServerVersion(info.version);
  if (!version) {
    throw new ConfigError('cannot read the nats-server version', [
      { path: 'nats.url', message: `the server reported "${info.version}"` },
    ]);
  }
  if (below(version, MIN_SERVER_VERSION)) {
    throw new ConfigError(`nats-server ${info.version} is too old for Parley`, [
      {
        path: 'nats.url',
        message:
          `Parley needs nats-server ${MIN_SERVER_VERSION} or newer (subject mapping partition() partitions ` +
          'the EVENTS stream); upgrade the server (Debian: apt-get install nats-server)',
      },
    ]);
  }
  const warnings = WARNINGS.filter((w) => below(version, w.below)).map((w) => w.message);
  for (const warning of warnings) log.warn({ natsServerVersion: info.version }, warning);
  return { version: info.version, warnings };
}
