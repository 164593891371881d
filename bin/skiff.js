#!/usr/bin/env node
// The skiff command line: src/cli/ bundled into one module (scripts/bundle-cli.mjs), which
// Node reads and compiles at once instead of file by file: start-up is most of what a quick
// command costs. Its source map makes stack traces name the TypeScript sources; it has to be
// turned on before the bundle is loaded, hence the dynamic import.
process.setSourceMapsEnabled(true);
const { main } = await import('../dist/src/cli/main.bundle.js');

// `skiff ps | head`: a reader that stops early is not an error of ours.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
