import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { envOverrides, loadConfig, parsePartitionSet } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/app-error.js';

t.test('config - defaults apply with no file and no environment', async (t) => {
  const dir = t.testdir({});
  const { config, file } = loadConfig({ env: {}, cwd: dir });
  t.equal(file, undefined);
  t.equal(config.partitions, 64);
  t.equal(config.nats.url, undefined, 'embedded by default');
  t.equal(config.dataDir, join(dir, '.parley'), 'relative paths resolve against the working directory');
  t.ok(Object.isFrozen(config.runtime), 'the result is frozen');
});

t.test('config - precedence is flags > environment > file > defaults', async (t) => {
  const dir = t.testdir({ 'parley.yaml': 'partitions: 8\nhttp: { port: 9000 }\nlog: { level: debug }\n' });
  const { config } = loadConfig({
    cwd: dir,
    env: { PARLEY_HTTP__PORT: '9100', PARLEY_LOG__LEVEL: 'warn', PARLEY_RUNTIME__MAX_IN_FLIGHT: '77' },
    overrides: { log: { level: 'error' } },
  });
  t.equal(config.partitions, 8, 'file');
  t.equal(config.http.port, 9100, 'env over file, parsed as a number');
  t.equal(config.log.level, 'error', 'flag over env');
  t.equal(config.runtime.maxInFlight, 77, 'SNAKE_CASE env maps to camelCase keys');
});

t.test('config - every issue is reported at once with file, line and field', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'partitions: zero\nhttp:\n  port: 8080\n  prot: 1\nruntime:\n  maxInFlight: -5\n',
  });
  const err = t.throws(() => loadConfig({ cwd: dir, env: {}, file: 'bad.yaml' })) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.equal(err.code, 'CONFIG_INVALID');
  const paths = err.issues.map((i) => i.path);
  t.ok(
    paths.some((p) => /bad\.yaml:1 partitions/.test(p)),
    `partitions on line 1 (${paths})`,
  );
  t.ok(
    err.issues.some((i) => /bad\.yaml:4 http\.prot/.test(i.path) && /unknown key/.test(i.message)),
    'the unknown key is named at its line',
  );
  t.ok(
    paths.some((p) => /bad\.yaml:6 runtime\.maxInFlight/.test(p)),
    'nested field with its line',
  );
});

t.test('config - a missing explicit file and broken YAML are clear errors', async (t) => {
  const dir = t.testdir({ 'broken.yaml': 'nats: [unclosed\n' });
  t.throws(() => loadConfig({ cwd: dir, env: {}, file: 'nope.yaml' }), /config file not found/);
  t.throws(() => loadConfig({ cwd: dir, env: {}, file: 'broken.yaml' }), /not valid YAML/);
  writeFileSync(join(dir, 'list.yaml'), '- 1\n- 2\n');
  t.throws(() => loadConfig({ cwd: dir, env: {}, file: 'list.yaml' }), /mapping/);
});

t.test('config - PARLEY_CONFIG names the file; non-JSON env values stay strings', async (t) => {
  const dir = t.testdir({ 'x.yaml': 'partitions: 4\n' });
  const { config, file } = loadConfig({
    cwd: dir,
    env: { PARLEY_CONFIG: 'x.yaml', PARLEY_NATS__URL: 'nats://127.0.0.1:4999' },
  });
  t.equal(file, join(dir, 'x.yaml'));
  t.equal(config.partitions, 4);
  t.equal(config.nats.url, 'nats://127.0.0.1:4999');
  t.same(envOverrides({ PARLEY_A__B_C: 'true', OTHER: '1' }), { a: { bC: true } });
});

t.test('config - partition sets parse ranges and refuse what is outside the deployment', async (t) => {
  t.same(parsePartitionSet('all', 4), [0, 1, 2, 3]);
  t.same(parsePartitionSet('0-2, 5,7', 8), [0, 1, 2, 5, 7]);
  t.throws(() => parsePartitionSet('0-8', 8), /outside 0-7/);
  t.throws(() => parsePartitionSet('a-b', 8), /cannot read/);
});
