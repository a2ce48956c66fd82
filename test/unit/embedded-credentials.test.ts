import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../src/config/load.js';
import { connectOptionsFrom } from '../../src/nats/connection.js';
import { embeddedAuthorization, loadEmbeddedCredentials } from '../../src/nats/embedded-credentials.js';
import { embeddedServerOptions } from '../../src/nats/embedded-server.js';
import { renderServerConfig } from '../../src/nats/server-config.js';

function dir(t: { teardown(fn: () => unknown): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'parley-creds-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test(
  'embedded-credentials - generated once per role and tenant, kept 0600, reused and extended',
  async (t) => {
    const d = dir(t);
    const first = loadEmbeddedCredentials(d, ['acme']);
    t.same(Object.keys(first.roles).sort(), ['actors', 'admin', 'connectors', 'ingest']);
    t.same(Object.keys(first.producers), ['acme']);
    t.ok(
      Object.values(first.roles).every((p) => p.length >= 32),
      'long random passwords',
    );
    t.equal(new Set(Object.values(first.roles)).size, 4, 'all different');
    t.equal(statSync(first.file).mode & 0o777, 0o600);
    const again = loadEmbeddedCredentials(d, ['acme', 'globex']);
    t.same(again.roles, first.roles, 'not rotated on restart');
    t.equal(again.producers.acme, first.producers.acme);
    t.ok(again.producers.globex, 'a new tenant gets its producer');
    t.same(JSON.parse(readFileSync(first.file, 'utf8')).producers.globex, again.producers.globex, 'saved');

    const text = renderServerConfig({
      port: 4222,
      storeDir: 's',
      partitions: 4,
      authorization: embeddedAuthorization(again),
    });
    t.match(text, new RegExp(`user: "admin"\\n\\s+password: "${again.roles.admin}"`));
    t.match(text, /user: "producer-globex"/);
    t.match(text, /"ingest\.globex\.>"/);
  },
);

t.test(
  'embedded-credentials - without nats.url Parley runs the server with users and connects as admin',
  async (t) => {
    const d = dir(t);
    const config = loadConfig({ env: {}, cwd: d, overrides: { dataDir: d, tenants: { acme: {} } } }).config;
    const server = embeddedServerOptions(config);
    t.ok(server.authorization, 'the embedded server gets the accounts block');
    const opts = connectOptionsFrom(config, 'nats://127.0.0.1:4222');
    t.equal(opts.user, 'admin');
    t.equal(opts.pass, loadEmbeddedCredentials(d, []).roles.admin);
    t.equal(opts.inboxPrefix, '_INBOX.admin');

    const open = loadConfig({
      env: {},
      cwd: d,
      overrides: { dataDir: d, nats: { embedded: { auth: false } } },
    }).config;
    t.notOk(embeddedServerOptions(open).authorization, 'nats.embedded.auth: false runs without users');
    t.notOk(connectOptionsFrom(open, 'nats://x').user);

    const external = loadConfig({
      env: {},
      cwd: d,
      overrides: { dataDir: d, nats: { url: 'nats://x', user: 'ingest', pass: 'p' } },
    }).config;
    t.same(
      [connectOptionsFrom(external, 'nats://x').user, connectOptionsFrom(external, 'nats://x').inboxPrefix],
      ['ingest', undefined],
      'an external server uses the configured user (inbox prefix derived at connect)',
    );
  },
);
