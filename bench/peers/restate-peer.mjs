// The Restate peer of `parley bench --peers`: plain JavaScript, outside Parley's build, importing
// @restatedev/restate-sdk from bench/peers/node_modules. One virtual object, `conversation`, keyed by the
// conversation id (Restate runs one invocation per key at a time, in order: per-conversation order and
// single-writer state, like Parley's actors). Its `event` handler reads the state (ctx.get), folds the
// event and writes it back (ctx.set), and sends the webhook inside ctx.run (journaled: not repeated once
// it succeeded), as every peer does (peer-work.mjs). The producer (the bench) sends each event with
// POST /conversation/<key>/event/send and idempotency-key = the event id.
//
//   node bench/peers/restate-peer.mjs '<json config>'     (prints "ready <port>" once listening)
import http2 from 'node:http2';
import { fold, initialState, webhookSender } from './peer-work.mjs';

// The SDK calls Promise.withResolvers (Node 22+); on Node 20 this standard shape is supplied first.
Promise.withResolvers ??= function withResolvers() {
  let resolve;
  let reject;
  const promise = new this((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
const restate = await import('@restatedev/restate-sdk');

const config = JSON.parse(process.argv[2]);
const webhook = webhookSender(config);

const conversation = restate.object({
  name: 'conversation',
  handlers: {
    event: async (ctx, e) => {
      const s = (await ctx.get('state')) ?? initialState();
      const template = fold(s, e, config);
      ctx.set('state', s);
      if (template) await ctx.run('webhook', () => webhook.send(e, template));
    },
  },
});

// Our own HTTP/2 server, to bind loopback only (the SDK's listen() binds every interface).
const handler = restate.createEndpointHandler({ services: [conversation] });
const server = http2.createServer(handler);
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port, '127.0.0.1', resolve);
});
process.stdout.write(`ready ${config.port}\n`);
process.on('SIGTERM', () => process.exit(0));
