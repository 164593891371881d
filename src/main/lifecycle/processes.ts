// Which processes belong to a running container: the one place that answers it, for `top`.
// Today that is PID 1 and every descendant by PPid, from one scan of /proc. A process the
// container's init adopts (a daemon that double-forks) stays a descendant, because PID 1 is
// the init of the container's pid namespace. Once containers get cgroups, this becomes a read
// of the cgroup's cgroup.procs, and nothing else needs to change.
import { allPids, procStat } from '../../sys/proc.js';

/** PID 1 (as skiffd sees it) and its descendants, ascending; [] when PID 1 is gone. */
export function containerPids(pid1: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const st = procStat(pid);
    if (st === null) continue; // left while we scanned
    const list = children.get(st.ppid);
    if (list) list.push(pid);
    else children.set(st.ppid, [pid]);
  }
  if (procStat(pid1) === null) return [];
  const out: number[] = [];
  const todo = [pid1];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out.sort((a, b) => a - b);
}
