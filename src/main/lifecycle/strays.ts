// After a launcher died mid-start, its container's PID 1 may have exec'd and been re-parented
// to skiffd (the subreaper) with nobody tracking it. Such a stray is a child of skiffd that
// is neither a launcher nor a known container, and is still unknown once every start then in
// flight has settled (so a concurrent start's PID 1 is never mistaken for one): it is killed
// and reaped.
import { childPids } from '../../sys/proc.js';
import { log } from '../log.js';
import type { Reaper } from './reaper.js';

export class StrayReaper {
  constructor(
    private readonly reaper: Reaper,
    private readonly known: () => ReadonlySet<number>,
    private readonly inFlight: () => Promise<unknown>[],
  ) {}

  async reap(): Promise<void> {
    const candidates = this.unknownChildren();
    await Promise.allSettled(this.inFlight());
    const still = new Set(this.unknownChildren());
    for (const pid of candidates) {
      if (!still.has(pid)) continue;
      try {
        this.reaper.watch(pid).signal(9);
        log('warn', 'killed a stray container process left by a dead launcher', { pid });
      } catch {
        // gone already
      }
    }
  }

  private unknownChildren(): number[] {
    const known = this.known();
    return childPids(process.pid).filter((pid) => !known.has(pid));
  }
}
