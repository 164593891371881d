// Orphans of the test process. It is a child subreaper while a Harness's Reaper or an OCI
// suite's useSubreaper() makes it one (as skiffd, containerd's shim and conmon are), so every
// process orphaned below it then becomes its child: a daemonizing skiff-oci server, conmon or
// shim, a hook's or an exec's leftovers, a dead skiffd's containers. Nobody waits for those, and
// each stays a zombie until the test process ends (630 in one CI run).
// reapOrphans() reaps them, and only them: never a child that something here will wait for,
// since taking its status first would make that wait fail or hang. Those are
//   - the children Node spawned (child_process: libuv waitpid()s each by pid; a blanket
//     waitpid(-1) would steal their statuses), tracked from ChildProcess.prototype.spawn;
//   - a pid this process holds a pidfd for (skiff's Reaper, a test's own pidfdOpen + waitid),
//     read from /proc/self/fdinfo: whoever opened the pidfd means to reap it.
// It runs from the suite's root hooks between tests (test/support/hooks.ts), never in the middle
// of one, where a test may be about to open its pidfd.
import { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { close, pidfdOpen, waitPidfd } from '../../src/sys/libc.js';
import { childPids, fdTargets, isZombie } from '../../src/sys/proc.js';

/** Pids of children Node's child_process spawned and has not yet seen exit. */
const spawned = new Set<number>();
let tracking = false;

/**
 * Records every pid child_process spawns (spawn, exec, execFile and fork all go through
 * ChildProcess.prototype.spawn) until its 'exit', which libuv emits once it has reaped it.
 * spawnSync needs none: it reaps its child before it returns. Idempotent.
 */
export function trackSpawnedChildren(): void {
  if (tracking) return;
  tracking = true;
  // Not in @types/node: the internal method every async spawn calls, with the pid set on return.
  const proto = ChildProcess.prototype as ChildProcess & { spawn: (this: ChildProcess, options: unknown) => unknown };
  const spawn = proto.spawn;
  proto.spawn = function (this: ChildProcess, options: unknown) {
    const r = spawn.call(this, options);
    const pid = this.pid;
    if (pid !== undefined) {
      spawned.add(pid);
      this.once('exit', () => spawned.delete(pid));
    }
    return r;
  };
}

/** Pids this process holds a pidfd for (its fdinfo's "Pid:" line; -1 once the process is reaped). */
function pidfdPids(): Set<number> {
  const pids = new Set<number>();
  for (const { fd, target } of fdTargets('self')) {
    if (target !== 'anon_inode:[pidfd]') continue;
    try {
      const m = /^Pid:\s*(-?\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (m) pids.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return pids;
}

/** Zombie children of this process (state Z, ppid = process.pid), by a scan of /proc. */
export function zombieChildren(): number[] {
  return childPids(process.pid).filter(isZombie);
}

/** The zombie children nobody here waits for: neither Node's own nor held by a pidfd. */
export function orphanZombies(): number[] {
  if (!tracking) throw new Error('trackSpawnedChildren() must run first, or Node\'s own children would be taken for orphans');
  const zombies = zombieChildren().filter((p) => !spawned.has(p));
  if (zombies.length === 0) return [];
  const watched = pidfdPids();
  return zombies.filter((p) => !watched.has(p));
}

/** Reaps `pid` if it is a child of this process that has exited: true if it was reaped, false if it runs, is gone or is not ours. */
export function reapChild(pid: number): boolean {
  let fd: number;
  try {
    fd = pidfdOpen(pid);
  } catch {
    return false; // reaped meanwhile
  }
  try {
    return waitPidfd(fd) !== null;
  } catch {
    return false; // ECHILD: not our child
  } finally {
    close(fd);
  }
}

/** Reaps the zombie children nobody here waits for (see above); returns their pids. */
export function reapOrphans(): number[] {
  return orphanZombies().filter(reapChild);
}
