/**
 * Parley's NATS connection options from config against a real nats-server requiring TLS: an NKey seed file,
 * user and password (with the derived inbox prefix), and the CA; without the CA or with a foreign key the
 * connection is refused.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { connectNats, connectOptionsFrom } from '../../src/nats/connection.js';
import { startNatsServer } from '../../src/nats/embedded-server.js';
import { tempDir } from '../helpers/parley.js';

const dir = tempDir(t, 'parley-natsconn-');
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
openssl(
  'req',
  '-x509',
  ...ec,
  '-keyout',
  'ca.key',
  '-out',
  'ca.pem',
  '-days',
  '1',
  '-subj',
  '/CN=parley-test-ca',
);
openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
openssl(
  'x509',
  '-req',
  '-in',
  'server.csr',
  '-CA',
  'ca.pem',
  '-CAkey',
  'ca.key',
  '-CAcreateserial',
  '-out',
  'server.pem',
  '-days',
  '1',
  '-extfile',
  'server.ext',
);

const user = createUser();
const seedFile = join(dir, 'parley.nk');
writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()));
const stranger = createUser();
const strangerSeed = join(dir, 'stranger.nk');
writeFileSync(strangerSeed, new TextDecoder().decode(stranger.getSeed()));

const server = await startNatsServer({
  port: -1,
  storeDir: join(dir, 'store'),
  configPath: join(dir, 'nats.conf'),
  partitions: 4,
  extraConfig: `
tls { cert_file: ${JSON.stringify(join(dir, 'server.pem'))}, key_file: ${JSON.stringify(join(dir, 'server.key'))} }
authorization {
  users: [
    { nkey: ${JSON.stringify(user.getPublicKey())} }
    { user: "alice", password: "alice-pw", permissions: { publish: ">", subscribe: ["_INBOX.alice.>", "probe.>"] } }
  ]
}
`,
});
t.teardown(() => server.stop());

function configWith(nats: Record<string, unknown>) {
  return loadConfig({ env: {}, cwd: dir, overrides: { dataDir: dir, nats: { url: server.url, ...nats } } })
    .config;
}

async function connectWith(nats: Record<string, unknown>) {
  const config = configWith(nats);
  return connectNats({ ...connectOptionsFrom(config, server.url), reconnect: false });
}

t.test('nats-connection - nkey seed file and the CA from config', async (t) => {
  const h = await connectWith({ nkey: seedFile, tls: { ca: join(dir, 'ca.pem') } });
  t.teardown(() => h.nc.close());
  t.ok((await h.jsm.getAccountInfo()).limits, 'JetStream answers over TLS');
});

t.test('nats-connection - user and password get replies under _INBOX.<user>', async (t) => {
  const h = await connectWith({ user: 'alice', pass: 'alice-pw', tls: { ca: join(dir, 'ca.pem') } });
  t.teardown(() => h.nc.close());
  t.ok((await h.jsm.getAccountInfo()).limits, 'a request works with only _INBOX.alice.> subscribable');
});

t.test('nats-connection - without the CA, with a foreign key or a wrong password: refused', async (t) => {
  await t.rejects(connectWith({ nkey: seedFile }), 'the server certificate does not verify without the CA');
  await t.rejects(
    connectWith({ nkey: strangerSeed, tls: { ca: join(dir, 'ca.pem') } }),
    /Authorization Violation/,
  );
  await t.rejects(
    connectWith({ user: 'alice', pass: 'nope', tls: { ca: join(dir, 'ca.pem') } }),
    /Authorization Violation/,
  );
});
