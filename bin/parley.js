#!/usr/bin/env node
// Entry point for `npx parley`: runs the single-file build made by `npm run build` (run by `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/parley.mjs', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write(
    'parley: dist/parley.mjs is missing; run `npm ci` (or `npm run build`) in the project root\n',
  );
  process.exit(1);
}
await import(built);
