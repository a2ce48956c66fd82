/**
 * Rules naming channels no tenant configures (src/rules/channel-check.ts): `parley rules validate` and `rules
 * push` refuse them naming rule, file, line and channel (push stores nothing); `parley start` warns once per
 * tenant; the sample rules validate against the demo parley.yaml.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RULES_BUCKET } from '../../src/nats/rules-bucket.js';
import { channelIssues } from '../../src/rules/channel-check.js';
import { readRuleDir } from '../../src/rules/rule-set.js';
import { startTestNats } from '../helpers/nats-server.js';
import {
  captureLogger,
  connect,
  ROOT,
  spawnCli,
  startParley,
  TEST_CONFIG_FILE,
  tempDir,
  testConfig,
} from '../helpers/parley.js';

const webhook = { url: 'http://127.0.0.1:9/hook', secret: 'validation-first-secret' };
const tenants = {
  acme: { channels: { webhook } },
  globex: { channels: { webhook, 'platform-dm': { url: 'http://127.0.0.1:9' } } },
};

function rulesDir(t: Parameters<typeof tempDir>[0]): string {
  const dir = join(tempDir(t, 'parley-channel-rules-'), 'rules');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'echo.yaml'),
    'id: echo\non: message.received\ndo:\n  - channel: webhook\n    template: ack\n',
  );
  writeFileSync(
    join(dir, 'welcome.yaml'),
    'id: welcome\non: conversation.started\ndo:\n  - channel: webhook\n    template: hi\n  - channel: dm\n    template: welcome\n',
  );
  writeFileSync(
    join(dir, 'dm-only-acme.yaml'),
    'id: dm-acme\ntenants: [acme]\non: message.received\ndo:\n  - channel: platform-dm\n    template: x\n',
  );
  return dir;
}

const env = (extra: Record<string, string>) => ({
  PARLEY_CONFIG: TEST_CONFIG_FILE,
  PARLEY_TENANTS: JSON.stringify(tenants),
  ...extra,
});

t.test(
  'rules validate - refuses actions on channels no tenant (the rule applies to) configures',
  async (t) => {
    const dir = rulesDir(t);
    const cli = spawnCli(t, ['rules', 'validate', dir], env({}));
    t.equal(await cli.exited, 2);
    const out = cli.lines.join('\n');
    t.match(out, /rules send on channels no tenant configures \(2 actions\)/);
    t.match(
      out,
      /welcome\.yaml:6 do\.1\.channel: rule "welcome" sends on channel "dm", which no tenant configures/,
    );
    t.match(out, /configured: platform-dm, webhook/, 'says which channels exist');
    t.match(
      out,
      /dm-only-acme\.yaml:5 do\.0\.channel: rule "dm-acme" sends on channel "platform-dm", which no tenant acme configures/,
      'a rule limited to tenants is checked against those tenants only',
    );
    t.notMatch(out, /echo\.yaml/, 'rules on configured channels pass');
  },
);

t.test('rules push - refuses them too and stores nothing', async (t) => {
  const nats = await startTestNats(t, { partitions: 4 });
  const cli = spawnCli(t, ['rules', 'push', rulesDir(t)], env({ PARLEY_NATS__URL: nats.url }));
  t.equal(await cli.exited, 2);
  t.match(cli.lines.join('\n'), /rule "welcome" sends on channel "dm"/);
  const h = await connect(t, nats.url);
  const names: string[] = [];
  for await (const n of h.jsm.streams.names()) names.push(n);
  t.notOk(names.includes(`KV_${RULES_BUCKET}`), 'the rules bucket was never even opened');
});

t.test('rules validate - the sample rules pass against the demo parley.yaml', async (t) => {
  const cli = spawnCli(t, ['rules', 'validate', '--config', join(ROOT, 'parley.yaml')], {
    PARLEY_CONFIG: undefined,
  });
  t.equal(await cli.exited, 0, cli.lines.join('\n'));
  const withoutDm = channelIssues(readRuleDir(join(ROOT, 'rules')), { acme: { channels: { webhook } } });
  t.ok(withoutDm.length > 0, 'and would be refused without the platform-dm channel (the check is live)');
});

t.test('parley start - warns once per tenant about rules on channels it does not configure', async (t) => {
  const nats = await startTestNats(t, { partitions: 4 });
  const { log, lines } = captureLogger();
  await startParley(
    t,
    testConfig(t, nats.url, 4, { rules: rulesDir(t), tenants, runtime: { partitions: 'all' } }),
    log,
  );
  const warnings = lines.filter((l) => /does not configure/.test(String(l.msg)));
  t.same(warnings.map((w) => w.tenant).sort(), ['acme', 'globex'], 'one warning per tenant with a gap');
  const acme = warnings.find((w) => w.tenant === 'acme')!;
  t.match(acme.actions, [
    { rule: 'dm-acme', file: 'dm-only-acme.yaml:5', channel: 'platform-dm' },
    { rule: 'welcome', file: 'welcome.yaml:6', channel: 'dm' },
  ]);
  t.match(acme.msg, /dead-lettered \(channel_not_configured\)/);
  const globex = warnings.find((w) => w.tenant === 'globex')!;
  t.same(
    (globex.actions as Array<{ channel: string }>).map((a) => a.channel),
    ['dm'],
    'globex configures platform-dm; dm-acme does not apply to it',
  );
});
