// How a benchmark stops when it is told to (Ctrl-C, `timeout`, a hang-up) without leaving its
// work behind: `skiff bench` here, and the scripts of bench/ (bench/stop.ts). A signal's default
// action ends Node at once, skipping the bench's finally blocks, which left its containers, its
// /tmp/skiff-bench-* directory, and for the scripts their daemons and cgroups. Here the first
// SIGINT, SIGTERM or SIGHUP only asks for a stop: the bench stops at its next step (a row, a
// round, a container not yet begun), its finally blocks clean up as after an error, and it ends
// with 128 + the signal's number. A second signal ends it at once, as before.
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Thrown by stopPoint once a stop was asked for: the bench unwinds through its finally blocks. */
export class BenchStopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
  }

  /** The exit status of a process a signal ended: 128 + its number. */
  get status(): number {
    return 128 + constants.signals[this.signal];
  }
}

let asked: NodeJS.Signals | null = null;

/** The signal that asked for a stop, or null. */
export function stopAsked(): NodeJS.Signals | null {
  return asked;
}

/**
 * Until the returned function is called, the signals above ask `name` to stop (said once on
 * stderr) instead of ending the process; a second one ends it with the signal's default action.
 */
export function listenForStop(name: string): () => void {
  const handlers = SIGNALS.map((signal) => {
    const handler = (): void => {
      if (asked) {
        dispose();
        process.kill(process.pid, signal);
        return;
      }
      asked = signal;
      process.stderr.write(`${name}: ${signal}: stopping at the next step, then cleaning up (send it again to end at once)\n`);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const dispose = (): void => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
  return dispose;
}

/**
 * At a step's start: throws BenchStopped once a stop was asked for. It lets the event loop turn
 * first, where Node runs signal handlers, so a bench whose steps are synchronous (spawnSync) sees
 * the signal too.
 */
export async function stopPoint(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (asked) throw new BenchStopped(asked);
}
