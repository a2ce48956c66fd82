/** The explicit list of built-in channels (no directory scanning): channel name -> adapter. */
import type { ChannelName } from '../../config/connectors-schema.js';
import type { ChannelAdapter } from '../channel.js';
import { EmailAdapter } from './email.js';
import { IN_APP, PLATFORM_DM, ProviderAdapter, PUSH } from './provider.js';
import { WebhookAdapter } from './webhook.js';

export function createAdapter(channel: ChannelName): ChannelAdapter<never> {
  switch (channel) {
    case 'webhook':
      return new WebhookAdapter();
    case 'email':
      return new EmailAdapter();
    case 'platform-dm':
      return new ProviderAdapter(PLATFORM_DM);
    case 'push':
      return new ProviderAdapter(PUSH);
    case 'in-app':
      return new ProviderAdapter(IN_APP);
  }
}
