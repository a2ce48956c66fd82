/**
 * `parley conversation show <tenant> <conversation>`: the conversation's stored state and recent decision
 * trail, the same view as GET /v1/conversations/:conversation. Reads NATS directly (nats.url, or the
 * embedded server of a running `parley start`, with its generated admin credentials).
 */
import { Command } from 'commander';
import type { ParleyConfig } from '../../config/schema.js';
import { TokenSchema } from '../../envelope/envelope.js';
import { AppError, ConfigError, errorMessage } from '../../errors/app-error.js';
import { conversationView } from '../../http/conversation-view.js';
import { STATE_BUCKET } from '../../main.js';
import { connectNats, connectOptionsFrom } from '../../nats/connection.js';
import { NatsConversationReader } from '../../nats/conversation-reader.js';
import {
  type CommonFlags,
  loadFromFlags,
  type OperatorFlags,
  operatorFromFlags,
  print,
  withCommonFlags,
  withOperatorFlags,
} from '../options.js';

function natsUrl(config: ParleyConfig): string {
  if (config.nats.url) return config.nats.url;
  const { host, port } = config.nats.embedded;
  if (port <= 0) {
    throw new ConfigError('no NATS to read from', [
      { path: 'nats.url', message: 'set nats.url (or --nats-url) to the server the running Parley uses' },
    ]);
  }
  return `nats://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

function checkToken(field: string, value: string): void {
  const parsed = TokenSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigError(`invalid ${field}`, [{ path: field, message: parsed.error.issues[0]!.message }]);
}

export function registerConversation(program: Command): void {
  const cmd = new Command('conversation').description('inspect conversations: state and decision trail');
  withOperatorFlags(withCommonFlags(cmd.command('show')))
    .description('print a conversation: its stored state and recent decision trail (AUDIT)')
    .argument('<tenant>', 'tenant id')
    .argument('<conversation>', 'conversation id')
    .option('--trail <n>', 'decision records to show', '50')
    .option('--json', 'machine-readable output (the API response shape)')
    .action(
      async (
        tenant: string,
        conversation: string,
        flags: CommonFlags & OperatorFlags & { trail: string },
      ) => {
        checkToken('tenant', tenant);
        checkToken('conversation', conversation);
        const { config } = loadFromFlags(flags);
        operatorFromFlags(config, flags, 'viewer', tenant);
        const url = natsUrl(config);
        const handles = await connectNats({ ...connectOptionsFrom(config, url), reconnect: false }).catch(
          (err) => {
            throw new AppError(
              `cannot reach NATS at ${url} (is parley start running?): ${errorMessage(err)}`,
              {
                code: 'NATS_UNAVAILABLE',
                cause: err,
              },
            );
          },
        );
        try {
          const reader = new NatsConversationReader(
            handles.js,
            handles.jsm,
            await handles.kvm.open(STATE_BUCKET),
          );
          const view = await conversationView(
            reader,
            tenant,
            conversation,
            Math.max(0, Number(flags.trail) || 0),
          );
          if (!view)
            throw new AppError(
              `no conversation "${conversation}" for tenant "${tenant}" (nothing stored yet: check the ids, or nats.url)`,
              { code: 'NOT_FOUND' },
            );
          print(flags, view, () =>
            [
              `conversation ${view.tenant}/${view.conversation} (last applied EVENTS seq ${view.seq})`,
              'state:',
              JSON.stringify(view.state, null, 2).replace(/^/gm, '  '),
              `trail (${view.trail.length}, oldest first):`,
              ...view.trail.map((e) => `  ${e.time}  #${e.seq}  ${e.kind}  ${JSON.stringify(e.record)}`),
            ].join('\n'),
          );
        } finally {
          await handles.nc.close();
        }
      },
    );
  program.addCommand(cmd);
}
