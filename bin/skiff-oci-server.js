#!/usr/bin/env node
// skiff-oci's warm server for one --root, started by the C front end (build/skiff-oci) when none
// answers: `skiff-oci-server.js [--ready-fd N] ROOT`. It writes one byte to fd N once it listens.
import { serve } from '../dist/src/oci/server.js';

const args = process.argv.slice(2);
let readyFd = null;
if (args[0] === '--ready-fd') {
  readyFd = Number(args[1]);
  args.splice(0, 2);
}
if (args.length !== 1 || (readyFd !== null && !Number.isInteger(readyFd))) {
  process.stderr.write('usage: skiff-oci-server.js [--ready-fd N] ROOT\n');
  process.exit(2);
}
// ps shows which root a server is for (tests find theirs by it)
process.title = `skiff-oci-server ${args[0]}`;
serve(args[0], readyFd).catch((err) => {
  process.stderr.write(`skiff-oci-server: ${err.message}\n`);
  process.exit(1);
});
