/**
 * Email channel: SMTP submission through nodemailer (one pooled transport per SMTP server). The Message-ID
 * is derived from the action ID, so a receiving system that dedupes on it sees one message; SMTP itself has
 * no idempotency and no delivery lookup, so the channel reconciles as `none`.
 *
 * Translation at the edge: SMTP 5xx replies and invalid addresses -> TerminalError; 4xx replies and
 * connection failures -> RetryableError.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../../config/connectors-schema.js';
import type { ActionMessage } from '../../contracts/action.js';
import { RetryableError, TerminalError } from '../../errors/app-error.js';
import type { ChannelAdapter, DeliveryEnvelope, SendContext, SendResult } from '../channel.js';

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** The recipient: variables.to, else the triggering event's attributes.email, else the channel default. */
export function emailRecipient(action: ActionMessage, config: EmailChannelConfig): string | undefined {
  const candidates = [action.variables.to, action.event.attributes.email, config.to];
  const found = candidates.find((c) => typeof c === 'string' && c.length > 0);
  return found as string | undefined;
}

function text(action: ActionMessage): string {
  if (typeof action.variables.text === 'string') return action.variables.text;
  const lines = [`Template: ${action.template}`, `Conversation: ${action.conversation}`];
  for (const [k, v] of Object.entries(action.variables))
    lines.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${lines.join('\n')}\n`;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  message: string;
}

/** SMTP answers and socket errors -> the error taxonomy. */
export function translateSmtpError(err: unknown): Error {
  const e = err as SmtpFailure;
  const message = `SMTP send failed: ${e.message ?? String(err)}`;
  if (typeof e.responseCode === 'number') {
    if (e.responseCode >= 500)
      return new TerminalError(message, { code: `SMTP_${e.responseCode}`, cause: err });
    if (e.responseCode >= 400)
      return new RetryableError(message, { code: `SMTP_${e.responseCode}`, cause: err });
  }
  if (e.code === 'EENVELOPE') return new TerminalError(message, { code: 'INVALID_ADDRESS', cause: err });
  if (e.code === 'EAUTH') return new TerminalError(message, { code: 'SMTP_AUTH', cause: err });
  return new RetryableError(message, { code: e.code ?? 'SMTP_CONNECTION', cause: err });
}

export class EmailAdapter implements ChannelAdapter<EmailChannelConfig> {
  readonly channel = 'email';
  readonly reconcile = 'none' as const;
  readonly #transports = new Map<string, Transporter>();

  #transport(config: EmailChannelConfig, timeoutMs: number): Transporter {
    const key = JSON.stringify(config.smtp);
    let transport = this.#transports.get(key);
    if (!transport) {
      const { host, port, secure, user, pass, requireTls } = config.smtp;
      transport = nodemailer.createTransport({
        host,
        port,
        secure,
        requireTLS: requireTls,
        pool: true,
        maxConnections: 8,
        maxMessages: 1000,
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        ...(user ? { auth: { user, pass } } : {}),
      });
      this.#transports.set(key, transport);
    }
    return transport;
  }

  async send(envelope: DeliveryEnvelope<EmailChannelConfig>, ctx: SendContext): Promise<SendResult> {
    const { config, action, id } = envelope;
    const to = emailRecipient(action, config);
    if (!to || !ADDRESS.test(to)) {
      throw new TerminalError(`no valid recipient address (${to ?? 'none'})`, { code: 'INVALID_ADDRESS' });
    }
    const subject = typeof action.variables.subject === 'string' ? action.variables.subject : action.template;
    try {
      const info = await this.#transport(config, ctx.timeoutMs).sendMail({
        from: config.from,
        to,
        subject,
        text: text(action),
        messageId: `<${id}@parley>`,
        headers: { 'X-Parley-Action': id, 'X-Parley-Tenant': action.tenant },
      });
      const rejected = info.rejected ?? [];
      if (rejected.length > 0 && (info.accepted ?? []).length === 0) {
        throw new TerminalError(`recipient rejected: ${rejected.join(', ')}`, { code: 'INVALID_ADDRESS' });
      }
      return { deliveryId: info.messageId, status: 'accepted' };
    } catch (err) {
      if (err instanceof TerminalError || err instanceof RetryableError) throw err;
      throw translateSmtpError(err);
    }
  }

  async close(): Promise<void> {
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
  }
}
