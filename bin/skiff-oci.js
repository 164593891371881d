#!/usr/bin/env node
// skiff-oci, the OCI runtime command line (compiled from src/oci/).
import { main } from '../dist/src/oci/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
