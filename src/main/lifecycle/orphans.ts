// A start in flight when skiffd died leaves a PID 1 that ran on with no record saying so: the
// record on disk says created (or the end of an earlier run), because `running` is written
// only once the launch has answered. Its cgroup knows it: PID 1 joins the container's cgroup
// before anything else. So a restarted skiffd looks in the cgroup of every record it did not
// adopt, once the old launchers are gone (old-launchers.ts), and takes the init it finds
// there: the process whose innermost pid is 1 (the NSpid line of /proc/PID/status), that is,
// the container's own init in its own pid namespace.
import { statusField } from '../../sys/proc.js';

/** Among a cgroup's pids, the init of a pid namespace (a container's PID 1), if any. */
export function namespaceInit(pids: readonly number[]): number | null {
  for (const pid of pids) {
    const ns = statusField(pid, 'NSpid')?.split(/\s+/) ?? [];
    if (ns.length >= 2 && ns[ns.length - 1] === '1') return pid;
  }
  return null;
}
