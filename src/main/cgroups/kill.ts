// Killing a container's cgroup whole, so that nothing in it escapes by forking while it is
// killed (a fork loop, a process that re-spawns itself and exits, an exec racing the stop).
// A list of pids read from cgroup.procs and signalled one by one always loses that race: a
// child forked after the read is not on the list. So, by what the host has:
//
//   cgroup.kill  v2, or a hybrid host's unified hierarchy (kernels ≥ 5.14): one write, and the
//                kernel kills every task in the cgroup and any task forked into it meanwhile.
//   freezer      v1 freezer.state (or v2 cgroup.freeze on a kernel without cgroup.kill): freeze,
//                wait until every task is frozen (a frozen task does not fork, and a child forked
//                while freezing is born frozen), SIGKILL each pid then listed, thaw: each task
//                dies as it thaws, none runs a single instruction in between.
//   signals      neither: SIGKILL each pid listed (Cgroups.finish repeats it until rmdir succeeds).
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';

export type KillMethod = 'cgroup.kill' | 'freezer' | 'signals';

/** Where a container's cgroup is killed from: its directory in the hierarchy that method needs. */
export interface KillTarget {
  method: KillMethod;
  /** cgroup.kill: the directory holding cgroup.kill; freezer: the one holding freezer.state (v1) or cgroup.freeze (v2) */
  dir: string | null;
  /** freezer: which freezer interface dir has */
  freezerVersion: 1 | 2;
  /** every directory whose cgroup.procs lists the container's processes */
  dirs: string[];
}

/** How long a freeze may take before the pids are killed anyway (a task stuck in the kernel does not freeze). */
const FREEZE_TIMEOUT_MS = 2_000;

/** Whether this kernel has cgroup.kill (Linux 5.14): the root cgroup has none to look at, the release says. */
export function kernelHasCgroupKill(rel = release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 14);
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Every pid in the container's cgroup, in any hierarchy (one may have been joined alone). */
export function cgroupPids(dirs: string[]): number[] {
  const all = new Set<number>();
  for (const d of dirs) {
    for (const line of readOr(`${d}/cgroup.procs`, '').split('\n')) if (line) all.add(Number(line));
  }
  return [...all];
}

function sigkillEach(dirs: string[]): void {
  for (const pid of cgroupPids(dirs)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Writes a cgroup file; false if the directory is gone (the container ended meanwhile) or the kernel lacks the file. */
function tryWrite(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

function frozen(t: KillTarget): boolean {
  if (t.freezerVersion === 1) return readOr(`${t.dir}/freezer.state`, 'FROZEN').trim() === 'FROZEN';
  return /^frozen 1$/m.test(readOr(`${t.dir}/cgroup.events`, 'frozen 1'));
}

/** Kills of one cgroup in flight, by directory: a second caller waits for the first (a thaw must not cut another's freeze short). */
const inFlight = new Map<string, Promise<void>>();

/**
 * SIGKILL to everything in the cgroup, race-free where the host allows it (see the top of this
 * file). Resolves once every task listed has been sent its SIGKILL; they leave cgroup.procs as
 * the kernel runs their exits.
 */
export function killCgroup(t: KillTarget): Promise<void> {
  const key = t.dirs[0] ?? '';
  const running = inFlight.get(key);
  if (running) return running;
  const p = killOnce(t).finally(() => inFlight.delete(key));
  inFlight.set(key, p);
  return p;
}

async function killOnce(t: KillTarget): Promise<void> {
  if (t.method === 'cgroup.kill' && t.dir !== null && tryWrite(`${t.dir}/cgroup.kill`, '1')) {
    // What was listed in a v1-only hierarchy and not in the unified one (joined there alone).
    sigkillEach(t.dirs);
    return;
  }
  if (t.method === 'freezer' && t.dir !== null) {
    const [file, on, off] = t.freezerVersion === 1 ? ['freezer.state', 'FROZEN', 'THAWED'] : ['cgroup.freeze', '1', '0'];
    if (tryWrite(`${t.dir}/${file}`, on)) {
      try {
        const deadline = Date.now() + FREEZE_TIMEOUT_MS;
        for (let wait = 1; !frozen(t) && Date.now() < deadline; wait = Math.min(wait * 2, 20)) await delay(wait);
        sigkillEach(t.dirs);
      } finally {
        tryWrite(`${t.dir}/${file}`, off);
      }
      return;
    }
  }
  sigkillEach(t.dirs);
}
