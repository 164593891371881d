// The launcher worker process: receives start requests from skiffd, launches, answers.
// Nothing else: no state, no policy beyond src/workers/plan.ts.
import { openSync } from 'node:fs';
import { StartError, startContainer } from './start.js';
import { execInContainer } from './exec.js';
import type { FromLauncher, ToLauncher } from './protocol.js';
import { unreachable } from '../api/unreachable.js';
import { nativePlanVersion, startTimeOf } from '../native/launch.js';
import { clearCloseOnExec, close } from '../sys/libc.js';

const index = process.env.SKIFF_LAUNCHER_INDEX ?? '0';
process.title = `skiff-launcher ${index}`;

function send(msg: FromLauncher): void {
  process.send?.(msg);
}

/** Exec pty masters held for the forwarder to take, until skiffd says release. */
const held = new Set<number>();

/** Runs a start or an exec and answers with its pid, or with why it failed. */
function answer(id: number, launch: () => { pid: number; ptyMaster?: number; startTime?: number | null }): void {
  try {
    const r = launch();
    if (r.ptyMaster !== undefined) held.add(r.ptyMaster);
    send({ type: 'started', id, pid: r.pid, ...(r.ptyMaster === undefined ? {} : { fd: r.ptyMaster }), ...(r.startTime === undefined ? {} : { startTime: r.startTime }) });
  } catch (err) {
    const failure = err instanceof StartError ? err.failure
      : { message: `launcher: ${(err as Error).message}`, exitCode: 125 };
    send({ type: 'failed', id, failure });
  }
}

function handle(msg: ToLauncher): void {
  const { type } = msg;
  switch (type) {
    case 'start':
      return answer(msg.id, () => {
        const { pid } = startContainer(msg.request);
        return { pid, startTime: startTimeOf(pid) };
      });
    case 'exec':
      return answer(msg.id, () => execInContainer(msg.request));
    case 'release':
      // Only an fd held here: a wrong number must never close another of this process's fds.
      if (held.delete(msg.fd)) close(msg.fd);
      return;
    default:
      unreachable(type, 'launcher IPC: type of a message from skiffd');
  }
}

/**
 * A message this launcher does not know (skiffd and the launcher built from different sources)
 * fails the start it belongs to with its own error, so that skiffd reports the IPC problem and
 * does not wait for a reply; one without an id cannot be answered and is only logged.
 */
function onMessage(m: unknown): void {
  try {
    handle(m as ToLauncher);
  } catch (err) {
    const message = (err as Error).message;
    const id = (m as { id?: unknown } | null)?.id;
    if (typeof id === 'number') send({ type: 'failed', id, failure: { message, exitCode: 125 } });
    else process.stderr.write(`skiff-launcher ${index}: ${message}\n`);
  }
}

// Test-only (skiffd started with SKIFF_TEST_HOOKS=1): a canary fd without close-on-exec, as a
// library or a careless parent would leave one, so that the suite can check the plan's
// close_from keeps every launcher fd out of the container (test/integration/hardening-host.test.ts).
const canary = process.env.SKIFF_TEST_HOOKS === '1' ? process.env.SKIFF_TEST_CANARY : undefined;
if (canary) clearCloseOnExec(openSync(canary, 'r'));

if (!process.send) {
  console.error('skiff-launcher: must be started by skiffd (no IPC channel)');
  process.exit(2);
}
nativePlanVersion(); // load the library now, not on the first start
process.on('message', onMessage);
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
