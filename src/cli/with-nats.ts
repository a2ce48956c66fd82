/**
 * A NATS session for one-shot commands: nats.url if set; otherwise the embedded server's address if a
 * running `parley start` serves it, else an embedded server started (and stopped) around `fn`.
 */
import type { ParleyConfig } from '../config/schema.js';
import { connectNats, connectOptionsFrom, type NatsHandles } from '../nats/connection.js';
import { embeddedServerOptions, startNatsServer } from '../nats/embedded-server.js';
import { checkServerVersion } from '../nats/server-version.js';
import { createLogger } from '../obs/logger.js';

export async function withNatsSession<T>(
  config: ParleyConfig,
  fn: (h: NatsHandles) => Promise<T>,
): Promise<T> {
  const log = createLogger({ level: config.log.level, destination: process.stderr });
  let url = config.nats.url;
  let handles: NatsHandles | undefined;
  let server: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  if (!url && config.nats.embedded.port > 0) {
    const candidate = `nats://${config.nats.embedded.host}:${config.nats.embedded.port}`;
    handles = await connectNats({ ...connectOptionsFrom(config, candidate), reconnect: false }).catch(
      () => undefined,
    );
    if (handles) url = candidate;
  }
  try {
    if (!handles) {
      if (!url) {
        server = await startNatsServer(embeddedServerOptions(config));
        url = server.url;
      }
      handles = await connectNats({ ...connectOptionsFrom(config, url), reconnect: false });
    }
    checkServerVersion({ version: handles.nc.info?.version ?? 'unknown' }, log);
    return await fn(handles);
  } finally {
    await handles?.nc.close();
    await server?.stop();
  }
}
