/**
 * The names in src/contracts/names.ts are the ones streams/*.json provisions: a stream or bucket renamed on
 * one side only fails here. Also checks the dependency direction the contracts layer exists for.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { actorsConsumerName, BUCKETS, connectorsConsumerName, STREAMS } from '../../src/contracts/names.js';

const root = join(import.meta.dirname, '..', '..');

t.test('contracts - stream and bucket names match streams/*.json', async (t) => {
  const streams = readdirSync(join(root, 'streams'))
    .filter((f) => f.endsWith('.json') && f !== 'buckets.json')
    .map((f) => (JSON.parse(readFileSync(join(root, 'streams', f), 'utf8')) as { name: string }).name)
    .sort();
  t.same(streams, Object.values(STREAMS).sort(), 'every stream definition has a name here, and only those');
  const raw = JSON.parse(readFileSync(join(root, 'streams', 'buckets.json'), 'utf8')) as
    | Array<{ bucket: string }>
    | { buckets: Array<{ bucket: string }> };
  const buckets = (Array.isArray(raw) ? raw : raw.buckets).map((b) => b.bucket).sort();
  t.same(buckets, Object.values(BUCKETS).sort(), 'every bucket definition has a name here, and only those');
  t.equal(actorsConsumerName(3), 'actors-p03');
  t.equal(connectorsConsumerName(12), 'connectors-p12');
});

/** Relative imports of every .ts file under `dir` (recursively), resolved against the project root. */
function importsUnder(dir: string): Array<{ file: string; target: string }> {
  const out: Array<{ file: string; target: string }> = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...importsUnder(rel));
    else if (entry.name.endsWith('.ts')) {
      const text = readFileSync(join(root, rel), 'utf8');
      for (const m of text.matchAll(/from\s+'(\.[^']+)'/g))
        out.push({ file: rel, target: join(dir, m[1]!).replace(/\\/g, '/') });
    }
  }
  return out;
}

t.test('contracts - the arrows point inward', async (t) => {
  const rule = (from: string, forbidden: string[]) => {
    const bad = importsUnder(from).filter(({ target }) => forbidden.some((f) => target.startsWith(f)));
    t.same(
      bad.map((b) => `${b.file} -> ${b.target}`),
      [],
      `${from} imports none of ${forbidden.join(', ')}`,
    );
  };
  rule('src/contracts', ['actors', 'src/rules', 'src/safety', 'src/runtime', 'src/connectors', 'src/nats']);
  rule('src/rules', ['actors', 'src/runtime', 'src/connectors', 'src/nats']);
  rule('src/safety', ['actors', 'src/runtime', 'src/connectors', 'src/nats']);
  rule('src/connectors', ['actors', 'src/runtime', 'src/nats']);
});
