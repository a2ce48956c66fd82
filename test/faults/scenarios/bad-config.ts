/**
 * Config files with typos and contradictions: `parley start` must exit non-zero with a message naming the file
 * and the key at fault, before taking anything. A running process is unaffected: a second start with an
 * invalid config (an admin token equal to a tenant token, which is only found after parsing) must not take
 * its leases — events sent afterwards are still delivered, in order, once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { driveHttp, plan } from '../drivers.js';
import { type Scenario, TENANT, TENANT_TOKEN, withHarness } from '../harness.js';
import { ParleyProcess } from '../parley-process.js';

interface ConfigCase {
  name: string;
  /** Changes applied to a valid config; a function may also write files (rules). */
  edit: (config: Record<string, unknown>, dir: string) => void;
  /** Text the error output must contain. */
  mentions: RegExp;
  /** The error must name the config or rule file (cross-field checks name the fields instead). */
  namesFile?: boolean;
}

const CASES: ConfigCase[] = [
  {
    name: 'unknown top-level key',
    edit: (c) => {
      c.tenats = c.tenants;
    },
    mentions: /tenats/,
  },
  {
    name: 'typo in a nested key',
    edit: (c) => {
      (c.http as Record<string, unknown>).prot = 8080;
    },
    mentions: /prot/,
  },
  {
    name: 'wrong type',
    edit: (c) => {
      c.partitions = 'many';
    },
    mentions: /partitions/,
  },
  {
    name: 'webhook url not a URL',
    edit: (c) => {
      (c.tenants as Record<string, { channels: { webhook: { url: string } } }>)[
        TENANT
      ]!.channels.webhook.url = 'not a url';
    },
    mentions: /url/,
  },
  {
    name: 'bad tenant id',
    edit: (c) => {
      (c.tenants as Record<string, unknown>)['a.b'] = {};
    },
    mentions: /a\.b|tenant/,
  },
  {
    name: 'rule file with a typo',
    edit: (_c, dir) =>
      writeFileSync(
        join(dir, 'rules', 'typo.yaml'),
        'id: typo\nonn: message.received\ndo:\n  - channel: webhook\n    template: x\n',
      ),
    mentions: /typo\.yaml/,
  },
  {
    name: 'rule file that is not YAML',
    edit: (_c, dir) => writeFileSync(join(dir, 'rules', 'broken.yaml'), 'id: [unclosed\n  on: : :\n'),
    mentions: /broken\.yaml/,
  },
  {
    name: 'admin token equal to a tenant token',
    edit: (c) => {
      c.admin = { tokens: [TENANT_TOKEN] };
    },
    mentions: /admin\.tokens/,
    namesFile: false,
  },
];

export const scenario: Scenario = {
  name: 'bad-config',
  description:
    'typos and contradictions in parley.yaml and rules: clear error, exit non-zero, running process unaffected',
  tags: ['input'],
  timeoutMs: 240_000,
  run: () =>
    withHarness({}, async (h) => {
      const failures: string[] = [];
      const first = plan({ tenant: TENANT, conversations: 10, perConversation: 5 });
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, first, h.recorder);
      for (const c of CASES) {
        const p = h.addProcess();
        const dir = join(h.dir, p.options.name);
        const { readFileSync } = await import('node:fs');
        const config = JSON.parse(readFileSync(p.options.configFile, 'utf8')) as Record<string, unknown>;
        c.edit(config, dir);
        writeFileSync(p.options.configFile, JSON.stringify(config, null, 2));
        h.faults++;
        const bad = new ParleyProcess({ ...p.options, name: `${p.options.name} (${c.name})` });
        h.processes[h.processes.length - 1] = bad;
        try {
          await bad.start(30_000);
          failures.push(`${c.name}: parley start came up with an invalid config`);
          await bad.stop('SIGKILL');
          continue;
        } catch {
          // expected: it exits
        }
        await bad.waitForExit(10_000).catch(() => {});
        const code = bad.proc?.exitCode;
        const output = bad.lines.join('\n');
        if (code === 0 || code === null)
          failures.push(`${c.name}: exit code ${code ?? bad.proc?.signalCode}`);
        if (!c.mentions.test(output))
          failures.push(`${c.name}: the error does not mention ${c.mentions}: ${bad.tail(5)}`);
        if (c.namesFile !== false && !/\.yaml/.test(output))
          failures.push(`${c.name}: the error names no file: ${bad.tail(5)}`);
      }
      // The first process still owns everything and delivers what comes next.
      const second = plan({ tenant: TENANT, conversations: 10, perConversation: 10 }).map((evs) =>
        evs.slice(5),
      );
      await driveHttp(() => h.apiUrl(), TENANT_TOKEN, second, h.recorder);
      await h.settle(60_000);
      return h.result({ redeliveryIsViolation: true, failures });
    }),
};
