/**
 * Stream-wide dedupe keys (Nats-Msg-Id) that one tenant cannot pre-empt for another.
 *
 * JetStream deduplicates on Nats-Msg-Id across the whole stream, and a direct NATS producer chooses that
 * header freely: nats-server 2.9 can neither rewrite nor refuse it (no header transforms). A key anyone can
 * compute, such as `<tenant>:<event id>`, can therefore be published first by another tenant's producer,
 * and the genuine event is then dropped as a "duplicate". So every key Parley derives is
 * `<tenant>:<id>:<mac>`, where the MAC is HMAC-SHA256 under the deployment's dedupe secret
 * (`runtime.dedupe.secret`, the same on every process) of the tenant and the id: readable in
 * `nats stream view`, deterministic across retries and processes, and impossible to forge without the secret.
 *
 * The secret is the configured one, else the deployment's own (parley-deployment, created by provisioning;
 * src/nats/provision.ts deploymentDedupeKey). Every message Parley publishes into EVENTS is keyed: HTTP and
 * outbox events, and its own predictable ids (outcomes, wakes, emitted events, operator resolutions and
 * consent changes, triggers, scheduled events: src/nats/js-publisher.ts, src/nats/safety-store.ts).
 * Without any secret the key is `<tenant>:<id>` (readable, tenant-scoped, but forgeable by a direct producer). The actor-level record of applied
 * ids (actors/recent-ids.ts) does not depend on any of this: it dedupes on the body's id per conversation.
 */
import { createHmac } from 'node:crypto';

/** Maps an id Parley chose (an event id, an outcome id) to the Nats-Msg-Id it is published with. */
export type DedupeKey = (tenant: string, id: string) => string;

/** Characters of the MAC (base64url, 6 bits each): 96 bits. */
const MAC_CHARS = 16;

export function createDedupeKey(secret?: string): DedupeKey {
  if (!secret) return (tenant, id) => `${tenant}:${id}`;
  return (tenant, id) => {
    const mac = createHmac('sha256', secret).update(tenant).update('\0').update(id).digest('base64url');
    return `${tenant}:${id}:${mac.slice(0, MAC_CHARS)}`;
  };
}
