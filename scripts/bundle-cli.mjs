// Bundles the skiff CLI (src/cli/main.ts and what it imports: commander, yaml, src/api, src/spec,
// src/compose) into one ES module, dist/src/cli/main.bundle.js, which bin/skiff.js runs.
//
// Why: a quick command (`skiff ps`, a no-op `skiff fleet up`) costs mostly its start-up, and
// most of that is Node resolving, reading and compiling modules one file at a time: the `yaml`
// package alone is ~80 CommonJS files. One file is read and compiled once.
//
// The bundle sits next to tsc's dist/src/cli/main.js on purpose: the paths the CLI finds from
// its own location (skiffd's entry ../main/skiffd-main.js, package.json above) stay the same.
// Node's built-in modules stay imports; koffi, a native module, is never bundled (the CLI must
// not load it at all: the build fails if anything pulls it in). Source maps point stack traces
// at the TypeScript sources (bin/skiff.js turns them on).
//
// One file, not esbuild's code splitting into a chunk per command: measured side by side, the
// chunks (24 modules to load) cost as much as compiling what a command does not use.
//
// Run by `npm run build` (so by `npm install`), after tsc.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/cli/main.ts');
const outfile = join(root, 'dist/src/cli/main.bundle.js');

/** Fails the build on any import of koffi: only skiffd and its workers may load it. */
const noKoffi = {
  name: 'no-koffi',
  setup(b) {
    b.onResolve({ filter: /^koffi(\/|$)/ }, (args) => ({
      errors: [{ text: `the CLI must not load koffi (imported by ${args.importer}): only skiffd and its workers may` }],
    }));
  },
};

try {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Less to read and compile (~10 ms of CPU per command); names are kept, for stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    // Stack traces need file names and lines, not the sources' text: a smaller map to read.
    sourcesContent: false,
    plugins: [noKoffi],
    // commander and yaml are CommonJS: their require() of Node's built-ins needs a real require.
    banner: { js: "import { createRequire as __skiffCreateRequire } from 'node:module';\nconst require = __skiffCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch (err) {
  // esbuild has printed the errors, each with its file and line.
  console.error(`skiff: bundling the CLI (${entry} -> ${outfile}) failed: ${err.message.split('\n')[0]}`);
  process.exit(1);
}
