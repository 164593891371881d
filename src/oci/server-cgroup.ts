// The server's own cgroup, /skiff-oci/server-<hash of its root> in every hierarchy: it is
// started from an engine's process tree (containerd's shim, podman's conmon) and outlives the
// call that started it, so it leaves that tree's cgroup, whose owner may want it empty or
// gone. It leaves its cgroup again as it exits (back to each hierarchy's root: a process
// cannot remove the cgroup it is in) and removes it, and skiff-oci's level if that is empty.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { NO_RESOURCES } from '../spec/resources.js';
import { makeCgroup, removeCgroup, type MadeCgroup } from './cgroup.js';

export function joinServerCgroup(root: string): MadeCgroup | null {
  let made: MadeCgroup;
  try {
    made = makeCgroup({ path: `/skiff-oci/server-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`, resources: NO_RESOURCES, devices: [] });
  } catch {
    return null; // no cgroup of its own (a read-only /sys/fs/cgroup, say): it serves all the same
  }
  made.parents = made.dirs.map((d) => d.slice(0, d.lastIndexOf('/')));
  try {
    for (const procs of made.procs) writeFileSync(procs, String(process.pid));
  } catch {
    leaveServerCgroup(made);
    return null;
  }
  return made;
}

export function leaveServerCgroup(made: MadeCgroup): void {
  for (const dir of made.dirs) {
    try {
      writeFileSync(`${dir.slice(0, dir.indexOf('/skiff-oci/'))}/cgroup.procs`, String(process.pid));
    } catch {
      // not in it, or gone
    }
  }
  try {
    removeCgroup(made.dirs, made.parents);
  } catch {
    // still busy: a stale, empty directory the next server for this root reuses
  }
}
