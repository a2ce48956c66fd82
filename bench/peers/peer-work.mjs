// The work every peer does per event, shared so that the peers differ only in their runtime: fold the
// event into the conversation's state (opt-out on "STOP", escalation on a risky message, counters), then,
// unless the conversation is opted out or escalated, one signed, idempotent Standard Webhooks delivery
// (webhook-id = the action id, so a retried send is deduped by the receiver) with the body Parley's
// webhook channel sends. A non-2xx answer throws: the runtime's own retry policy takes over.
import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';

export function initialState() {
  return { events: 0, spent: 0, optedOut: false, escalated: false, last: -1 };
}

/** Folds one event into the state (mutates and returns it) and says which template to send, if any. */
export function fold(s, e, config) {
  const text = typeof e.attributes?.text === 'string' ? e.attributes.text : '';
  if (text.trim().toUpperCase() === config.stopText) s.optedOut = true;
  if (config.riskyTexts.includes(text)) s.escalated = true;
  if (e.type === 'purchase.completed') s.spent += Number(e.attributes?.amount ?? 0);
  s.events++;
  s.last = e.attributes?.n ?? s.last;
  if (s.optedOut || s.escalated) return undefined;
  return e.type === 'purchase.completed' ? 'thanks' : e.type === 'message.received' ? 'ack' : undefined;
}

export function webhookSender(config) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const key = Buffer.from(config.secret.replace(/^whsec_/, ''), 'base64');
  const url = `${config.simUrl}/hooks/bench`;
  const send = (e, template) => {
    const action = `${e.id}.0`;
    const body = JSON.stringify({
      type: 'action',
      tenant: 'bench',
      conversation: e.conversation,
      rule: template === 'ack' ? 'echo' : 'thanks',
      action,
      template,
      variables: {},
      event: { id: e.id, type: e.type, attributes: e.attributes },
    });
    const ts = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', key).update(`${action}.${ts}.${body}`).digest('base64');
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'webhook-id': action,
            'webhook-timestamp': String(ts),
            'webhook-signature': `v1,${signature}`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`webhook answered ${res.statusCode}`)),
          );
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('webhook timed out')));
      req.on('error', reject);
      req.end(body);
    });
  };
  return { send, close: () => agent.destroy() };
}
