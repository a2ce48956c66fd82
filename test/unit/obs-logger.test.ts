import { PassThrough } from 'node:stream';
import t from 'tap';
import { isConfigPath, loadConfig } from '../../src/config/load.js';
import { createLogger, prettyFor } from '../../src/obs/logger.js';
import { formatPartitionSet } from '../../src/runtime/partition-set.js';

function capture(): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => (out += c));
  return { stream, text: () => out };
}

t.test('obs-logger - JSON lines by default to a stream, pretty text when asked or on a TTY', async (t) => {
  const json = capture();
  createLogger({ destination: json.stream }).info({ partition: 3 }, 'hello');
  const line = JSON.parse(json.text()) as { msg: string; level: string; partition: number };
  t.same([line.msg, line.level, line.partition], ['hello', 'info', 3]);

  const pretty = capture();
  createLogger({ destination: pretty.stream, format: 'pretty' }).warn({ url: 'nats://x' }, 'careful');
  t.match(pretty.text(), /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: careful \{"url":"nats:\/\/x"\}\n$/);

  const tty = Object.assign(new PassThrough(), { isTTY: true });
  t.equal(prettyFor('auto', tty), true, 'auto is pretty on a terminal');
  t.equal(prettyFor('auto', new PassThrough()), false, 'and JSON into a pipe or file');
  t.equal(prettyFor('json', tty), false, '--log-format json wins on a terminal');
});

t.test('obs-logger - partition lists read as ranges', async (t) => {
  t.equal(formatPartitionSet([]), '');
  t.equal(formatPartitionSet(Array.from({ length: 64 }, (_, i) => i)), '0-63');
  t.equal(formatPartitionSet([9, 0, 1, 2, 3, 7, 10]), '0-3,7,9-10');
});

t.test('config-env - which PARLEY_* variables are settings', async (t) => {
  t.ok(isConfigPath(['http', 'port']));
  t.ok(isConfigPath(['partitions']));
  t.ok(isConfigPath(['tenants', 'acme', 'timeZone']), 'records take any key');
  t.notOk(isConfigPath(['dir']));
  t.notOk(isConfigPath(['http', 'port', 'x']), 'nothing below a leaf');
  const { warnings, config } = loadConfig({
    env: { PARLEY_DIR: '/x', PARLEY_PARTITIONS: '8' },
    cwd: '/nonexistent',
  });
  t.equal(config.partitions, 8);
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^PARLEY_DIR is not a Parley setting and is ignored/);
  t.throws(() => loadConfig({ env: { PARLEY_HTTP__PORT: 'abc' }, cwd: '/nonexistent' }), {
    message: /PARLEY_HTTP__PORT="abc" \(environment\)/,
  });
  t.doesNotThrow(
    () =>
      loadConfig({
        env: { PARLEY_HTTP__PORT: 'abc' },
        cwd: '/nonexistent',
        overrides: { http: { port: 1 } },
      }),
    'a flag that overrides the variable wins',
  );
});
