/**
 * A NATS session for one-shot commands: nats.url if set; otherwise the embedded server's address if a
 * running `parley start` serves it (never a second nats-server on the same store), else an embedded server
 * started (and stopped) around `fn`. Connection failures name the URL and the fix, without a stack.
 * Server-version warnings are `parley start`'s to print once per process; one-shots only refuse.
 */
import type { ParleyConfig } from '../config/schema.js';
import { AppError, errorMessage } from '../errors/app-error.js';
import { connectNats, connectOptionsFrom, type NatsHandles } from '../nats/connection.js';
import { embeddedServerOptions, startNatsServer } from '../nats/embedded-server.js';
import { NatsSafetyStore } from '../nats/safety-store.js';
import { checkServerVersion } from '../nats/server-version.js';

/** The address a running embedded default listens on (what `parley start` without nats.url serves). */
export function embeddedUrl(config: ParleyConfig): string | undefined {
  const { host, port } = config.nats.embedded;
  if (port <= 0) return undefined;
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `nats://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Connects without reconnecting; a failure becomes one line naming the URL and what to check. */
export async function connectCli(config: ParleyConfig, url: string): Promise<NatsHandles> {
  try {
    return await connectNats({ ...connectOptionsFrom(config, url), reconnect: false });
  } catch (err) {
    throw new AppError(
      `cannot connect to NATS at ${url}: ${errorMessage(err)}; start the server (or \`parley start\`), or point ` +
        'nats.url / --nats-url / PARLEY_NATS__URL at a running one',
      { code: 'NATS_UNAVAILABLE', cause: err },
    );
  }
}

export async function withNatsSession<T>(
  config: ParleyConfig,
  fn: (h: NatsHandles) => Promise<T>,
): Promise<T> {
  let url = config.nats.url;
  let handles: NatsHandles | undefined;
  let server: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  const running = url ? undefined : embeddedUrl(config);
  if (running) {
    handles = await connectNats({ ...connectOptionsFrom(config, running), reconnect: false }).catch(
      () => undefined,
    );
    if (handles) url = running;
  }
  try {
    if (!handles) {
      if (!url) {
        server = await startNatsServer(embeddedServerOptions(config));
        url = server.url;
      }
      handles = await connectCli(config, url);
    }
    // Refusals (a server too old for Parley) still fail the command; warnings are left to `parley start`.
    checkServerVersion({ version: handles.nc.info?.version ?? 'unknown' }, { warn: () => {} });
    return await fn(handles);
  } finally {
    await handles?.nc.close();
    await server?.stop();
  }
}

/** A session's safety store (escalations, consent, switches), its operator events keyed as the servers key them. */
export function withSafetyStore<T>(
  config: ParleyConfig,
  fn: (store: NatsSafetyStore) => Promise<T>,
): Promise<T> {
  return withNatsSession(config, async (h) =>
    fn(await NatsSafetyStore.open(h, { dedupeSecret: config.runtime.dedupe.secret })),
  );
}
