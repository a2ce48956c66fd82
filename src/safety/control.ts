/**
 * Kill switches and pauses (`parley-control` bucket): one key per scope, a JSON record per switch, deleted on
 * resume. Scopes, as operators write them and as keys:
 *   global                      -> global
 *   tenant:<t>                  -> tenant.<t>
 *   rule:<r>  | rule:<t>/<r>    -> rule.<r> | tenant.<t>.rule.<r>
 *   channel:<c> | channel:<t>/<c> -> channel.<c> | tenant.<t>.channel.<c>
 *   conversation:<t>/<c>        -> tenant.<t>.conversation.<c>
 * `pause` holds sends (re-checked at send time until resume); `kill` drops them (compliance-blocked).
 * Escalation holds live in the same bucket under escalation.<t>.<c>, written by the conversation's actor.
 */

import { z } from 'zod';
import { TOKEN_PATTERN } from '../contracts/envelope.js';
import { BUCKETS } from '../contracts/names.js';
import { ValidationError } from '../errors/app-error.js';

export const CONTROL_BUCKET = BUCKETS.control;

export const SwitchRecordSchema = z
  .object({
    mode: z.enum(['pause', 'kill']).describe('pause: hold sends until resume; kill: drop them'),
    scope: z.string(),
    reason: z.string().max(500).optional(),
    by: z.string().max(200).optional(),
    at: z.string().describe('ISO-8601 time the switch was set'),
  })
  .strict();

export type SwitchRecord = z.infer<typeof SwitchRecordSchema>;

export type Scope =
  | { kind: 'global' }
  | { kind: 'tenant'; tenant: string }
  | { kind: 'rule'; rule: string; tenant?: string }
  | { kind: 'channel'; channel: string; tenant?: string }
  | { kind: 'conversation'; tenant: string; conversation: string };

const token = (what: string, v: string | undefined): string => {
  if (!v || !TOKEN_PATTERN.test(v))
    throw new ValidationError(`invalid scope`, [
      { path: 'scope', message: `${what} "${v ?? ''}" must be a token` },
    ]);
  return v;
};

/** Parses `global`, `tenant:acme`, `rule:echo`, `rule:acme/echo`, `channel:acme/dm`, `conversation:acme/c1`. */
export function parseScope(text: string): Scope {
  const [kind, rest] = text.includes(':')
    ? [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)]
    : [text, ''];
  const [a, b] = rest.includes('/') ? rest.split('/', 2) : [rest, undefined];
  switch (kind) {
    case 'global':
      if (rest) break;
      return { kind: 'global' };
    case 'tenant':
      return { kind: 'tenant', tenant: token('tenant', a) };
    case 'rule':
      return b === undefined
        ? { kind: 'rule', rule: token('rule', a) }
        : { kind: 'rule', tenant: token('tenant', a), rule: token('rule', b) };
    case 'channel':
      return b === undefined
        ? { kind: 'channel', channel: token('channel', a) }
        : { kind: 'channel', tenant: token('tenant', a), channel: token('channel', b) };
    case 'conversation':
      return { kind: 'conversation', tenant: token('tenant', a), conversation: token('conversation', b) };
  }
  throw new ValidationError('invalid scope', [
    {
      path: 'scope',
      message: `"${text}": use global, tenant:<t>, rule:[<t>/]<r>, channel:[<t>/]<c> or conversation:<t>/<c>`,
    },
  ]);
}

export function scopeKey(scope: Scope): string {
  switch (scope.kind) {
    case 'global':
      return 'global';
    case 'tenant':
      return `tenant.${scope.tenant}`;
    case 'rule':
      return scope.tenant ? `tenant.${scope.tenant}.rule.${scope.rule}` : `rule.${scope.rule}`;
    case 'channel':
      return scope.tenant ? `tenant.${scope.tenant}.channel.${scope.channel}` : `channel.${scope.channel}`;
    case 'conversation':
      return `tenant.${scope.tenant}.conversation.${scope.conversation}`;
  }
}

export function formatScope(scope: Scope): string {
  switch (scope.kind) {
    case 'global':
      return 'global';
    case 'tenant':
      return `tenant:${scope.tenant}`;
    case 'rule':
      return `rule:${scope.tenant ? `${scope.tenant}/` : ''}${scope.rule}`;
    case 'channel':
      return `channel:${scope.tenant ? `${scope.tenant}/` : ''}${scope.channel}`;
    case 'conversation':
      return `conversation:${scope.tenant}/${scope.conversation}`;
  }
}

/** Every control key that can stop this action, most general first. */
export function switchKeys(a: {
  tenant: string;
  conversation: string;
  rule: string;
  channel: string;
}): string[] {
  return [
    'global',
    `tenant.${a.tenant}`,
    `rule.${a.rule}`,
    `tenant.${a.tenant}.rule.${a.rule}`,
    `channel.${a.channel}`,
    `tenant.${a.tenant}.channel.${a.channel}`,
    `tenant.${a.tenant}.conversation.${a.conversation}`,
  ];
}

/** Key of a conversation's escalation hold in the control bucket. */
export function holdKey(tenant: string, conversation: string): string {
  return `escalation.${tenant}.${conversation}`;
}

/**
 * The hold record an escalated conversation's actor writes, read at send time for actions already in
 * ACTIONS: `open` holds them, `closed` drops them, `replied` drops those decided before `dropBefore`.
 * (`resume` deletes the key.)
 */
export interface HoldRecord {
  escalationId: string;
  status: 'open' | 'closed' | 'replied';
  /** ISO-8601. */
  since: string;
  /** ms; replied: actions decided before this are dropped. */
  dropBefore?: number;
}
