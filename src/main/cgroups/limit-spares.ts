// Spare v1 cpu and pids cgroups, kept with the limits they hold and handed to the next container
// that asks for the same ones: no mkdir, no rmdir, and no limit write. The write this spares
// most is cpu.cfs_quota_us: each one has the kernel check the bandwidth of every CPU cgroup of
// the host (tg_set_cfs_bandwidth → __cfs_schedulable walks the whole task-group tree). A fleet's
// replicas, or a load test, all ask for the same limits, so each start takes the spare the last
// exit left. A container's key is its limits over a new cgroup's defaults, so a key that
// matches means every file already holds what the container would write. A spare's is the one
// its container was made with, or, where something wrote its limits since (`docker update`, a
// cgroup made by an earlier skiffd), read from its files when it is kept.
//
// Only hierarchies of no other controller: where cpu shares a hierarchy with cpuacct (most
// v1 hosts mount cpu,cpuacct together) a spare would carry its last container's CPU time into
// the next one's `stats` (writing cpuacct.usage zeroes the usage but not cpuacct.stat), so
// there the cgroup is made and removed as before. What a spare keeps of its last container:
// cpu.stat's throttling counters and pids.events' `max` count, which skiff does not read.
import type { V1Hierarchy } from './layout.js';
import type { Controller, LimitWrite } from './limits.js';
import { SpareDirs } from './spare-dirs.js';
import { readCgroupFile } from './cgroup-file.js';

/** Spares kept at most per hierarchy, for the whole skiffd (the oldest goes beyond). */
const MAX_SPARES = 32;

/** The files a spare's key is made of, per controller, with a new cgroup's values; every limit write of the controller is one of them. */
const KEY_FILES: Partial<Record<Controller, [file: string, fresh: string][]>> = {
  cpu: [['cpu.cfs_quota_us', '-1'], ['cpu.cfs_period_us', '100000'], ['cpu.shares', '1024']],
  pids: [['pids.max', 'max']],
};

/**
 * The key of what `files` hold after `writes` of `controller` on a new cgroup (each file's value,
 * in order), or null when a write goes to a file not among them (never from a spare). An
 * optional write of a file the key lacks (v1 memsw without swap accounting) is skipped, as the
 * writer skips it.
 */
export function keyAfter(files: readonly [file: string, fresh: string][], controller: Controller, writes: readonly LimitWrite[]): string | null {
  const values = new Map(files);
  for (const w of writes) {
    if (w.controller !== controller) continue;
    if (!values.has(w.file)) {
      if (w.optional) continue;
      return null;
    }
    values.set(w.file, w.value);
  }
  return [...values.values()].join(' ');
}

/** The key of what `files` hold in `dir` now, or null if one cannot be read. */
export function keyIn(dir: string, files: readonly [file: string, fresh: string][]): string | null {
  const values = files.map(([file]) => read(`${dir}/${file}`));
  return values.includes(null) ? null : values.join(' ');
}

function read(path: string): string | null {
  return readCgroupFile(path)?.trim() ?? null;
}

interface Pooled {
  controller: Controller;
  files: [file: string, fresh: string][];
  spares: SpareDirs;
}

export class LimitSpares {
  /** by hierarchy root: the one controller it has and its spares */
  private readonly pools = new Map<string, Pooled>();
  /** the key of each container cgroup made or taken with known limits, by its directory */
  private readonly made = new Map<string, string>();

  constructor(hierarchies: readonly V1Hierarchy[]) {
    for (const h of hierarchies) {
      const controller = h.controllers[0] as Controller;
      const files = KEY_FILES[controller];
      if (h.controllers.length === 1 && files) this.pools.set(h.mount, { controller, files, spares: new SpareDirs(MAX_SPARES, controller[0]!) });
    }
  }

  /** The controller whose spares `root` keeps (null: none, its cgroups are made and removed). */
  controllerOf(root: string): Controller | null {
    return this.pools.get(root)?.controller ?? null;
  }

  /**
   * Renames a spare of `root` that already holds what `writes` would write there to `dir`:
   * true if taken (the caller skips those writes), false (the caller makes it and writes).
   */
  take(root: string, dir: string, writes: readonly LimitWrite[]): boolean {
    const pool = this.pools.get(root);
    const key = pool ? keyAfter(pool.files, pool.controller, writes) : null;
    return key !== null && pool!.spares.take(dir, key) !== null;
  }

  /** `dir` of `root` now holds what `writes` wrote on a new cgroup (made, or taken): its key, known without reading it back. */
  wrote(root: string, dir: string, writes: readonly LimitWrite[]): void {
    const pool = this.pools.get(root);
    const key = pool ? keyAfter(pool.files, pool.controller, writes) : null;
    if (key !== null) this.made.set(dir, key);
  }

  /** Limits written into `dir` since (docker update): its key is read back when it is kept. */
  changed(dir: string): void {
    this.made.delete(dir);
  }

  /** Keeps an emptied container cgroup of `root` as a spare: true if kept (renamed away), false if the caller is to remove it. */
  give(root: string, dir: string): boolean {
    const pool = this.pools.get(root);
    const known = this.made.get(dir);
    this.made.delete(dir);
    if (!pool) return false;
    const key = known ?? keyIn(dir, pool.files);
    // kept only if its cgroup.procs is empty (checked in the renaming call)
    return key !== null && pool.spares.keep(dir, key, undefined);
  }

  /** Removes the spares in `level` of every hierarchy (a fleet level going), or all of them (skiffd's close). */
  drain(level?: string): void {
    for (const [root, pool] of this.pools) pool.spares.drain(level === undefined ? undefined : `${root}/${level}`);
  }
}
