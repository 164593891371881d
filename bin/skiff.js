#!/usr/bin/env node
// The skiff command line (compiled from src/cli/).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
