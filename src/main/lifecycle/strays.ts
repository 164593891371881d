// After a launcher died mid-start, its container's PID 1 may have exec'd and been re-parented
// to skiffd (the subreaper) with nobody tracking it. Such a stray is a child of skiffd that
// is neither a launcher nor a known container, and is still unknown once every start then in
// flight has settled (so a concurrent start's PID 1 is never mistaken for one): it is killed
// and reaped.
import { childPids } from '../../sys/proc.js';
import { log } from '../log.js';
import type { Reaper } from './reaper.js';

/** Children of skiffd that are no strays (launchers, PID 1s, execs), and their launches in flight. */
export interface ProcessSource {
  pids(): Iterable<number>;
  /** launches in flight, whose processes exist before their pids are known */
  inFlight(): Promise<unknown>[];
}

export class StrayReaper {
  private readonly sources: ProcessSource[];

  /** `own`: the processes the supervisor accounts for (its launchers, the console keeper's, its containers' PID 1s). */
  constructor(private readonly reaper: Reaper, own: ProcessSource) {
    this.sources = [own];
  }

  /** More of skiffd's children that are no strays (the execs' processes), and their launches in flight. */
  add(source: ProcessSource): void {
    this.sources.push(source);
  }

  async reap(): Promise<void> {
    const candidates = this.unknownChildren();
    await Promise.allSettled(this.sources.flatMap((s) => s.inFlight()));
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
    const known = new Set(this.sources.flatMap((s) => [...s.pids()]));
    return childPids(process.pid).filter((pid) => !known.has(pid));
  }
}
