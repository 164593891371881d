// Process entry for `node dist/src/main/skiffd-main.js`: the daemon started by the CLI.
import { runDaemon } from './skiffd.js';

runDaemon(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`skiffd: ${err.message}\n`);
  process.exit(1);
});
