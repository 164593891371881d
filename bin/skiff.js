#!/usr/bin/env node
// The skiff command line (compiled from src/cli/).
import { main } from '../dist/src/cli/main.js';

// `skiff ps | head`: a reader that stops early is not an error of ours.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
