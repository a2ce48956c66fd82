/**
 * Email over SMTP against a real SMTP server (the smtp-server package) on 127.0.0.1: the message arrives
 * with the action's Message-ID; a permanent 5xx reply dead-letters; a temporary 4xx is retried.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import t from 'tap';
import { action, deadLetters, publishActions } from '../helpers/connectors.js';
import { startTestNats } from '../helpers/nats-server.js';
import { connect, startParley, testConfig, waitFor } from '../helpers/parley.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

async function startSmtp(t: { teardown(fn: () => unknown): void }) {
  const received: Received[] = [];
  let tempFailures = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, cb) {
      if (address.address.startsWith('nobody@'))
        return cb(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
      if (address.address.startsWith('busy@') && tempFailures < 1) {
        tempFailures++;
        return cb(Object.assign(new Error('4.2.1 try again later'), { responseCode: 451 }));
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, received };
}

t.test(
  'connectors - email is delivered over SMTP to a real server; 5xx dead-letters, 4xx retries',
  async (t) => {
    const nats = await startTestNats(t, { partitions: 4 });
    const smtp = await startSmtp(t);
    const config = testConfig(t, nats.url, 4, {
      tenants: {
        acme: {
          channels: {
            email: {
              smtp: { host: '127.0.0.1', port: smtp.port },
              from: 'Acme <hello@acme.test>',
              to: 'fallback@fans.test',
            },
          },
        },
      },
      connectors: { retryInitialMs: 100 },
    });
    await startParley(t, config);
    const h = await connect(t, nats.url);
    const ok = action('acme', 'm1', 1, 'email', {
      variables: { to: 'fan@fans.test', subject: 'Thanks!', text: 'We got your message.' },
    });
    const fallback = action('acme', 'm2', 1, 'email', { variables: {} });
    const rejected = action('acme', 'm3', 1, 'email', { variables: { to: 'nobody@fans.test' } });
    const busy = action('acme', 'm4', 1, 'email', { variables: { to: 'busy@fans.test' } });
    const invalid = action('acme', 'm5', 1, 'email', { variables: { to: 'not-an-address' } });
    await publishActions(h, [ok, fallback, rejected, busy, invalid], 4);

    await waitFor('3 emails', async () => smtp.received.length >= 3, 30_000);
    const first = smtp.received.find((m) => m.to.includes('fan@fans.test'));
    t.ok(first, 'the email reached the SMTP server');
    t.equal(first!.from, 'hello@acme.test', 'envelope sender from the channel config');
    t.match(first!.raw, /Subject: Thanks!/, 'subject from the action variables');
    t.match(first!.raw, /We got your message\./, 'text from the action variables');
    t.match(
      first!.raw,
      new RegExp(`Message-ID: <${ok.id.replace(/\./g, '\\.')}@parley>`),
      'Message-ID derived from the action ID',
    );
    t.ok(
      smtp.received.some((m) => m.to.includes('fallback@fans.test')),
      'the channel default recipient is used without variables.to',
    );
    t.ok(
      smtp.received.some((m) => m.to.includes('busy@fans.test')),
      'a 451 reply was retried and delivered',
    );

    const dead = await waitFor('2 dead letters', async () => {
      const found = await deadLetters(h, 'dlq.email.acme');
      return found.length >= 2 ? found : undefined;
    });
    const byAction = new Map(dead.map((d) => [(d.action as { id: string }).id, d]));
    t.match(byAction.get(rejected.id)?.error, /SMTP_550/, 'a 550 reply is permanent');
    t.match(byAction.get(invalid.id)?.error, /INVALID_ADDRESS/, 'an invalid address is permanent');
    t.equal(smtp.received.length, 3, 'nothing else was delivered, nothing twice');
  },
);
