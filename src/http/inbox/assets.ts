/**
 * The inbox's static files, bundled by `npm run build` (scripts/build.mjs) into dist/inbox/: inbox.js and
 * inbox.css. Found next to the running bundle (dist/parley.mjs) or, when running from source, in the
 * project's dist/. Read once and kept; only these names are served.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  'inbox.js': 'text/javascript; charset=utf-8',
  'inbox.css': 'text/css; charset=utf-8',
};

const DIRS = [new URL('./inbox/', import.meta.url), new URL('../../../dist/inbox/', import.meta.url)];

const cache = new Map<string, Buffer>();

export async function readAsset(name: string): Promise<{ type: string; body: Buffer } | undefined> {
  const type = TYPES[name];
  if (!type) return undefined;
  let body = cache.get(name);
  if (!body) {
    for (const dir of DIRS) {
      body = await readFile(fileURLToPath(new URL(name, dir))).catch(() => undefined);
      if (body) break;
    }
    if (!body) return undefined;
    cache.set(name, body);
  }
  return { type, body };
}
