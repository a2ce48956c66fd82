import t from 'tap';
import { ConfigError } from '../../src/errors/app-error.js';
import { checkServerVersion, parseServerVersion } from '../../src/nats/server-version.js';

function capture() {
  const lines: Array<{ obj: object; msg: string }> = [];
  return { lines, log: { warn: (obj: object, msg: string) => lines.push({ obj, msg }) } };
}

t.test('server-version - parses release, v-prefixed and pre-release versions', async (t) => {
  t.same(parseServerVersion('2.9.10'), { major: 2, minor: 9, patch: 10 });
  t.same(parseServerVersion('v2.10.23'), { major: 2, minor: 10, patch: 23 });
  t.same(parseServerVersion('2.11.0-RC.1'), { major: 2, minor: 11, patch: 0 });
  t.equal(parseServerVersion('2.9'), undefined);
  t.equal(parseServerVersion('nightly'), undefined);
});

t.test('server-version - refuses servers without partition() mapping (below 2.9.0)', async (t) => {
  const { log, lines } = capture();
  for (const version of ['2.8.4', '2.2.0', '1.4.1']) {
    t.throws(() => checkServerVersion({ version }, log), ConfigError, version);
  }
  const err = (() => {
    try {
      checkServerVersion({ version: '2.8.4' }, log);
    } catch (e) {
      return e as Error;
    }
  })();
  t.match(err?.message, /2\.8\.4.*too old/);
  t.match(err?.message, /2\.9\.0/);
  t.throws(() => checkServerVersion({ version: 'garbage' }, log), ConfigError);
  t.equal(lines.length, 0, 'nothing logged for a refused server');
});

t.test(
  'server-version - 2.9.10 (Debian) runs with CAS, CVE and sync_interval warnings, each logged',
  async (t) => {
    const { log, lines } = capture();
    const result = checkServerVersion({ version: '2.9.10' }, log);
    t.equal(result.version, '2.9.10');
    t.equal(result.warnings.length, 3);
    t.match(result.warnings[0], /compare-and-set.*2\.9\.21/);
    t.match(result.warnings[1], /CVE-2023-47090/);
    t.match(result.warnings[2], /sync_interval/);
    t.same(
      lines.map((l) => l.msg),
      result.warnings,
    );
    t.same(lines[0]?.obj, { natsServerVersion: '2.9.10' });
  },
);

t.test('server-version - warnings disappear at the versions that fix them', async (t) => {
  const count = (version: string) => checkServerVersion({ version }, capture().log).warnings;
  t.equal(count('2.9.0').length, 3);
  t.equal(count('2.9.20').length, 3);
  t.equal(count('2.9.21').length, 2, '2.9.21 fixes KV CAS on replicated buckets');
  t.notMatch(count('2.9.21').join('\n'), /compare-and-set/);
  t.equal(count('2.9.23').length, 1, '2.9.23 fixes CVE-2023-47090');
  t.match(count('2.9.25')[0], /sync_interval/);
  t.same(count('2.10.23'), []);
  t.same(count('2.12.1'), []);
});
