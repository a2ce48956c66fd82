// Regenerates the checked-in nats.conf from renderServerConfig() (src/nats/server-config.ts).
// Usage: npx tsx scripts/render-nats-conf.ts [--check]   (--check: exit 1 if nats.conf is out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCheckedInConfig } from '../src/nats/server-config.js';

const target = fileURLToPath(new URL('../nats.conf', import.meta.url));
const text = renderCheckedInConfig();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as out of date
  }
  if (current !== text) {
    process.stderr.write(`${target} is out of date: run npx tsx scripts/render-nats-conf.ts\n`);
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
