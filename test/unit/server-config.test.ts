import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ConfigError } from '../../src/errors/app-error.js';
import { ROLE_PASSWORD_ENV } from '../../src/nats/permissions.js';
import {
  CLUSTER_BLOCK_COMMENT,
  NATS_CONF_DEFAULTS,
  partitionFor,
  renderCheckedInConfig,
  renderServerConfig,
  SERVER_CONFIG_HEADER,
} from '../../src/nats/server-config.js';

const checkedIn = fileURLToPath(new URL('../../nats.conf', import.meta.url));

t.test('server-config - the checked-in nats.conf is exactly the render of the defaults', async (t) => {
  const text = readFileSync(checkedIn, 'utf8');
  t.equal(
    text,
    renderCheckedInConfig(),
    'nats.conf is out of date: run `npx tsx scripts/render-nats-conf.ts` and commit the result',
  );
  t.equal(renderCheckedInConfig(), renderServerConfig(NATS_CONF_DEFAULTS));
  t.ok(text.startsWith(SERVER_CONFIG_HEADER), 'starts with the header');
  t.match(text, /^accounts \{$/m, 'users and permissions live in accounts');
  t.notMatch(text, /^authorization/m, 'no authorization block next to accounts (CVE-2023-47090)');
  t.notMatch(text, /^\s*no_auth_user/m, 'no anonymous user');
  for (const env of Object.values(ROLE_PASSWORD_ENV)) {
    t.match(text, new RegExp(`password: \\$${env}$`, 'm'), `${env} is read from the environment`);
  }
  t.ok(text.includes(CLUSTER_BLOCK_COMMENT), 'carries the commented cluster block');
  t.match(text, /^listen: "127\.0\.0\.1:4222"$/m);
  t.match(text, /^ {2}store_dir: "\.parley\/nats"$/m);
  t.match(
    text,
    /"ingest\.\*\.\*\.>": "evt\.\{\{partition\(64,1,2\)\}\}\.\{\{wildcard\(1\)\}\}\.\{\{wildcard\(2\)\}\}\.>"/,
  );
  t.notMatch(text, /^mappings/m, 'the mapping belongs to the PARLEY account, not the global one');
  for (const line of CLUSTER_BLOCK_COMMENT.trimEnd().split('\n'))
    t.match(line, /^#/, 'cluster block stays commented');
});

t.test('server-config - renders listener, store, limits, ports dir and the partition count', async (t) => {
  const text = renderServerConfig({
    port: -1,
    storeDir: '/tmp/store dir',
    partitions: 8,
    portsFileDir: '/tmp/ports',
    serverName: 'parley-test',
  });
  t.match(text, /^server_name: "parley-test"$/m);
  t.match(text, /^listen: "127\.0\.0\.1:-1"$/m);
  t.match(text, /^max_payload: 1MB$/m);
  t.match(text, /^ports_file_dir: "\/tmp\/ports"$/m);
  t.match(text, /^ {2}store_dir: "\/tmp\/store dir"$/m);
  t.match(text, /^ {2}max_memory_store: \d+[MG]B$/m);
  t.match(text, /^ {2}max_file_store: \d+[MG]B$/m);
  t.match(text, /partition\(8,1,2\)/);
  t.notMatch(renderServerConfig({ port: 4222, storeDir: 's', partitions: 1 }), /ports_file_dir/);
  t.match(
    renderServerConfig({ host: '::1', port: 4222, storeDir: 's', partitions: 1 }),
    /^listen: "\[::1\]:4222"$/m,
  );
  t.match(
    renderServerConfig({ port: 1, storeDir: 's', partitions: 1, extraConfig: 'debug: true\n' }),
    /\ndebug: true\n$/,
  );
});

t.test('server-config - refuses partition counts and ports out of range', async (t) => {
  for (const partitions of [0, -1, 1.5, 1025]) {
    t.throws(
      () => renderServerConfig({ port: 4222, storeDir: 's', partitions }),
      ConfigError,
      `partitions ${partitions}`,
    );
  }
  t.throws(() => renderServerConfig({ port: 70000, storeDir: 's', partitions: 4 }), ConfigError);
  t.throws(() => renderServerConfig({ port: -2, storeDir: 's', partitions: 4 }), ConfigError);
});

t.test('server-config - partitionFor is stable, in range and spreads conversations', async (t) => {
  t.equal(partitionFor('acme', 'c1', 8), partitionFor('acme', 'c1', 8));
  const partitions = Array.from({ length: 1000 }, (_, i) => partitionFor('acme', `conv-${i}`, 64));
  t.same(
    partitions.filter((p) => !(Number.isInteger(p) && p >= 0 && p < 64)),
    [],
    'every partition is an integer in 0-63',
  );
  const seen = new Set(partitions);
  t.ok(seen.size > 56, `1000 conversations cover most of 64 partitions (${seen.size})`);
});
