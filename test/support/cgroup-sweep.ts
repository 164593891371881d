// Cgroups a killed test run left: a run ended midway (Ctrl-C, a CI timeout) never reaches the
// after() hooks that stop its TestDaemons, and a skiffd killed with its tests leaves its
// --cgroup-parent, `skiff-test-<its temp dir's name>` or a test's own `skiff-test-<what>-<pid>`,
// in every hierarchy, with its spares in it (`.spare-m<skiffd's pid>-N`, memcg-pool.ts and
// limit-spares.ts). The suite's global set-up (hooks.ts) sweeps them before it starts, and only
// what is certainly a dead run's:
//   - only a top-level directory named `skiff-test-*` (no other cgroup of the host);
//   - only when its owner is gone: no live process names it on its command line (skiffd's
//     `--cgroup-parent NAME`), no pid a spare name carries is alive, and the test process's pid
//     in its name (TestDaemon's `skiff-test-skiff-test-daemon-<pid>-XXXXXX`, a test's own
//     `skiff-test-<what>-<pid>`) is not alive; a name without one, only when the daemon's state
//     dir (`<tmpdir>/skiff-test-daemon-XXXXXX`) is gone too. (A killed run leaves its temp dirs:
//     that dir alone cannot tell a dead run from a live one. Another engineer's run on this
//     machine keeps all of the above.)
//   - only empty cgroups, by rmdir, deepest first: the kernel refuses one that holds a process
//     or a child (EBUSY), which is left as it is, never killed and never forced.
import { existsSync, lstatSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allPids, cmdline } from '../../src/sys/proc.js';

const PREFIX = 'skiff-test-';
const SPARE = /^\.spare-[a-z](\d+)-\d+$/;

export interface SweepOptions {
  /** the cgroup mount point (default /sys/fs/cgroup): one v2 hierarchy, or v1's one per controller */
  cgroupRoot?: string;
  /** where TestDaemon makes its temp dirs (default os.tmpdir()) */
  tmp?: string;
  /** whether a pid is alive (default: /proc/PID exists) */
  alive?: (pid: number) => boolean;
  /** the command lines of the live processes (default: every /proc/PID/cmdline) */
  cmdlines?: () => string[];
}

/** The hierarchies' roots: the mount itself on v2, each controller's directory (not the symlinks to them) on v1. */
export function hierarchies(root: string): string[] {
  if (existsSync(join(root, 'cgroup.controllers'))) return [root];
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) out.push(join(root, e.name));
  return out;
}

/** Every directory below `dir` (not `dir` itself), deepest first. */
export function subdirs(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    out.push(...subdirs(join(dir, e.name)), join(dir, e.name));
  }
  return out;
}

/** The pids the spare names in `dir`'s tree carry. */
function sparePids(dir: string): number[] {
  return subdirs(dir).map((d) => SPARE.exec(d.slice(d.lastIndexOf('/') + 1))).filter((m) => m !== null).map((m) => Number(m[1]));
}

/**
 * Removes the empty cgroups of dead test runs (see above); returns the directories removed.
 * A directory it may not remove is left, silently: the sweep never fails a run.
 */
export function sweepStaleTestCgroups(o: SweepOptions = {}): string[] {
  const root = o.cgroupRoot ?? '/sys/fs/cgroup';
  const tmp = o.tmp ?? tmpdir();
  const alive = o.alive ?? ((pid: number) => existsSync(`/proc/${pid}`));
  let lines: string[] | null = null;
  const named = (name: string): boolean => {
    lines ??= o.cmdlines ? o.cmdlines() : allPids().map((p) => cmdline(p) ?? '');
    return lines.some((l) => l.split(' ').includes(name));
  };
  const owned = new Map<string, boolean>();
  const isOwned = (name: string, dirs: string[]): boolean => {
    let v = owned.get(name);
    if (v === undefined) {
      const testPid = /^skiff-test-skiff-test-daemon-(\d+)-/.exec(name) ?? /-(\d+)$/.exec(name);
      v = named(name)
        || dirs.some((d) => sparePids(d).some(alive))
        || (testPid !== null ? alive(Number(testPid[1])) : existsSync(join(tmp, name.slice(PREFIX.length))));
      owned.set(name, v);
    }
    return v;
  };
  if (!existsSync(root)) return [];
  const byName = new Map<string, string[]>();
  for (const h of hierarchies(root)) {
    let entries: string[];
    try {
      entries = readdirSync(h);
    } catch {
      continue;
    }
    for (const name of entries) {
      if (!name.startsWith(PREFIX) || name.length === PREFIX.length) continue;
      const dir = join(h, name);
      if (!lstatSync(dir).isDirectory()) continue;
      byName.set(name, [...(byName.get(name) ?? []), dir]);
    }
  }
  const removed: string[] = [];
  for (const [name, dirs] of byName) {
    // Spares of any one hierarchy name the pid for all: the owner is judged across them.
    if (isOwned(name, dirs)) continue;
    for (const dir of dirs) {
      for (const d of [...subdirs(dir), dir]) {
        try {
          rmdirSync(d);
          removed.push(d);
        } catch {
          // holds a process or a child cgroup (EBUSY, ENOTEMPTY): not empty, left alone
        }
      }
    }
  }
  return removed;
}
