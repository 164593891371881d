// Stopping and removing one fleet container, for `fleet down` and for the reconciler's
// replacements and removals.
import { liveStartTime, statusField } from '../../sys/proc.js';
import { NotFound } from '../lifecycle/errors.js';
import { signalNumber } from '../lifecycle/signals.js';
import type { Supervisor } from '../lifecycle/supervisor.js';
import { isActive } from '../lifecycle/states.js';

/**
 * Does this process catch `signal`? The init of a pid namespace only receives, from an
 * ancestor namespace, the signals it has a handler for (pid_namespaces(7)): anything else is
 * dropped by the kernel. A container whose PID 1 does not catch its stop signal (`sleep`,
 * most programs not written as an init) would therefore sit out the whole grace period and
 * die of the SIGKILL anyway, so waiting for it is waiting for nothing.
 */
export function catchesSignal(pid: number, signal: string): boolean {
  const caught = statusField(pid, 'SigCgt');
  if (caught === null) return liveStartTime(pid) !== null; // gone: nothing to wait for; unknown: be polite
  const n = signalNumber(signal);
  return (BigInt(`0x${caught}`) >> BigInt(n - 1)) & 1n ? true : false;
}

/**
 * Stops the container (its stop signal, SIGKILL after its grace period — or SIGKILL at once
 * when PID 1 cannot receive the stop signal) and removes it. A container that is gone
 * already counts as removed.
 */
export async function stopAndRemove(sup: Supervisor, name: string): Promise<void> {
  try {
    // A start in a launcher cannot be cancelled: let one in flight finish, so that the
    // decision below sees its PID 1.
    await sup.settle(name);
    const r = sup.get(name);
    if (isActive(r)) {
      const graceful = r.status !== 'running' || r.pid === null || catchesSignal(r.pid, r.spec.stopSignal);
      if (graceful) await sup.stop(name);
    }
    // force: whatever is still alive (a restart that raced the stop, an ignored signal) gets SIGKILL.
    await sup.remove(name, { force: true });
  } catch (err) {
    if (err instanceof NotFound) return;
    throw err;
  }
}
