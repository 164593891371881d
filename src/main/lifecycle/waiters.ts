// Clients waiting on a container's state: Docker's wait conditions. `not-running` and
// `next-exit` are met when a run ends (exit or failed start), `removed` when the record goes.
import type { ContainerRecord } from './record.js';
import { isActive, isRemoved } from './states.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export const WAIT_CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

/** Keyed by container id, which a rename leaves as it is. */
export class Waiters {
  private readonly byId = new Map<string, { condition: WaitCondition; resolve: (r: ContainerRecord) => void }[]>();

  /** Whether the condition holds already, before any wait (`not-running` of a record that is not active). */
  static met(r: ContainerRecord, condition: WaitCondition): boolean {
    return condition === 'not-running' && !isActive(r);
  }

  /** Resolves with the record once the condition is met (at once if it is already: met()). */
  wait(r: ContainerRecord, condition: WaitCondition): Promise<ContainerRecord> {
    if (Waiters.met(r, condition)) return Promise.resolve(r);
    return new Promise((resolve) => {
      const list = this.byId.get(r.id) ?? [];
      list.push({ condition, resolve });
      this.byId.set(r.id, list);
    });
  }

  /** Called after every end of a run and every removal: resolves the waiters whose condition holds. */
  notify(r: ContainerRecord): void {
    const removed = isRemoved(r);
    if (!removed && isActive(r)) return;
    const list = this.byId.get(r.id);
    if (!list) return;
    const keep = list.filter((w) => {
      if (w.condition === 'removed' && !removed) return true;
      w.resolve(r);
      return false;
    });
    if (keep.length) this.byId.set(r.id, keep);
    else this.byId.delete(r.id);
  }
}
