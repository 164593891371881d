// The bench scripts' side of a stop (src/cli/bench/stop.ts says how a stop is asked for and
// seen): a script's main run so that a signal stops it at its next step and its finally blocks
// clean up, and the clean-up's two common parts. The daemons a script starts (skiffd, containerd,
// a registry) run in a session of their own (`detached`), so a terminal's Ctrl-C reaches the
// script alone, and the script ends them once their work is undone.
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { request } from '../src/api/http-client.js';
import { BenchStopped, listenForStop, stopAsked } from '../src/cli/bench/stop.js';

export { stopPoint } from '../src/cli/bench/stop.js';

/**
 * Runs a script's main with a signal turned into a stop at its next step. An error is printed
 * with its stack and exits 1, as the scripts did; a stop exits 128 + the signal's number.
 */
export function runBench(name: string, main: () => Promise<void>): void {
  const dispose = listenForStop(name);
  main().then(dispose, (err: unknown) => {
    // A step that failed once a stop was asked for most likely failed of the signal itself: a
    // stop all the same, its error said.
    const signal = stopAsked();
    if (signal) {
      const why = err instanceof BenchStopped ? '' : ` (a step failed meanwhile: ${(err as Error).message ?? String(err)})`;
      process.stderr.write(`${name}: stopped by ${signal}${why}; cleaned up\n`);
      process.exit(128 + constants.signals[signal]);
    }
    process.stderr.write(`${name}: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

/**
 * Ends a child the script started, by its pid, and waits for its exit; at once if it has exited
 * already (an 'exit' awaited after the fact never comes).
 */
export async function endChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/**
 * Removes every container of a skiffd the script started, before the script ends that skiffd:
 * containers outlive their skiffd by design, so a script stopped mid-step would leave some
 * running (and their cgroups and the script's directory in use). Best effort: a skiffd that no
 * longer answers is left as it is.
 */
export async function removeContainers(socket: string): Promise<void> {
  try {
    const list = await request(socket, 'GET', '/containers/json?all=1');
    for (const c of list.body as { Id: string }[]) await request(socket, 'DELETE', `/containers/${c.Id}?force=1`);
  } catch {
    // skiffd is not answering: nothing it could remove
  }
}
