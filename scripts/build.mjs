// Single-file build: bundles the CLI and every dependency into dist/parley.mjs.
// msgpackr's optional native extension stays external (msgpackr falls back to pure JS without it).
// The operator inbox's browser files (src/http/inbox/client/) go to dist/inbox/, served at /inbox/assets/.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/parley.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  external: ['msgpackr-extract'],
  banner: {
    js: "import { createRequire as __parleyCreateRequire } from 'node:module'; const require = __parleyCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

await build({
  entryPoints: ['src/http/inbox/client/inbox.js', 'src/http/inbox/client/inbox.css'],
  outdir: 'dist/inbox',
  bundle: true,
  minify: true,
  platform: 'browser',
  target: ['chrome100', 'firefox100', 'safari15'],
  format: 'iife',
  logLevel: 'warning',
});
