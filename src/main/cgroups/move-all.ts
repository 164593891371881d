// `docker update` (or a fleet's new limit) that needs a hierarchy a running container is not in:
// its processes moved into its new directory there, round after round, since a process not yet
// moved may fork meanwhile (a child of a moved one is born inside).
import { writeFileSync } from 'node:fs';
import { cgroupPids } from './kill.js';

/** How many rounds moveAll() moves a container's processes before giving up on a fork loop. */
const MOVE_ROUNDS = 100;

/** Moves every process listed in `from`'s cgroup.procs to `to`, until none is left outside. */
export function moveAll(from: string[], to: string): void {
  for (let round = 0; round < MOVE_ROUNDS; round++) {
    const inside = new Set(cgroupPids([to]));
    const outside = cgroupPids(from).filter((pid) => !inside.has(pid));
    if (outside.length === 0) return;
    for (const pid of outside) {
      try {
        writeFileSync(`${to}/cgroup.procs`, String(pid));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // exited meanwhile
      }
    }
  }
}

