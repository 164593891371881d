// Clients waiting on a container's state: Docker's wait conditions. `not-running` and
// `next-exit` are met when a run ends (exit or failed start), `removed` when the record goes.
import type { ContainerRecord } from './record.js';
import { isActive, isRemoved } from './states.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
export const WAIT_CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

export class Waiters {
  private readonly byName = new Map<string, { condition: WaitCondition; resolve: (r: ContainerRecord) => void }[]>();

  /** Resolves with the record once the condition is met (`not-running` at once if it is not active). */
  wait(r: ContainerRecord, condition: WaitCondition): Promise<ContainerRecord> {
    if (condition === 'not-running' && !isActive(r)) return Promise.resolve(r);
    return new Promise((resolve) => {
      const list = this.byName.get(r.name) ?? [];
      list.push({ condition, resolve });
      this.byName.set(r.name, list);
    });
  }

  /** The container was renamed: its waiters wait on under the new name. */
  rename(from: string, to: string): void {
    const list = this.byName.get(from);
    if (!list) return;
    this.byName.delete(from);
    this.byName.set(to, list);
  }

  /** Called after every end of a run and every removal: resolves the waiters whose condition holds. */
  notify(r: ContainerRecord): void {
    const removed = isRemoved(r);
    if (!removed && isActive(r)) return;
    const list = this.byName.get(r.name);
    if (!list) return;
    const keep = list.filter((w) => {
      if (w.condition === 'removed' && !removed) return true;
      w.resolve(r);
      return false;
    });
    if (keep.length) this.byName.set(r.name, keep);
    else this.byName.delete(r.name);
  }
}
