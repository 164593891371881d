// The launcher worker process: receives start requests from skiffd, launches, answers.
// Nothing else: no state, no policy beyond src/workers/plan.ts.
import { StartError, startContainer } from './start.js';
import type { FromLauncher, ToLauncher } from './protocol.js';
import { assertNever } from '../native/plan-format.js';
import { nativePlanVersion } from '../native/launch.js';

const index = process.env.SKIFF_LAUNCHER_INDEX ?? '0';
process.title = `skiff-launcher ${index}`;

function send(msg: FromLauncher): void {
  process.send?.(msg);
}

function handle(msg: ToLauncher): void {
  switch (msg.type) {
    case 'start': {
      try {
        const { pid } = startContainer(msg.request);
        send({ type: 'started', id: msg.id, pid });
      } catch (err) {
        const failure = err instanceof StartError ? err.failure
          : { message: `launcher: ${(err as Error).message}`, exitCode: 125 };
        send({ type: 'failed', id: msg.id, failure });
      }
      return;
    }
    default:
      assertNever(msg.type as never);
  }
}

if (!process.send) {
  console.error('skiff-launcher: must be started by skiffd (no IPC channel)');
  process.exit(2);
}
nativePlanVersion(); // load the library now, not on the first start
process.on('message', (m) => handle(m as ToLauncher));
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
