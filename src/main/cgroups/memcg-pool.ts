// Spare v1 memory cgroups, reused instead of made and removed. Removing a memory cgroup is the
// dearest part of a container's cgroups by far, and it is not skiffd's CPU: the kernel offlines
// it in a kworker (mem_cgroup_css_offline → memcg_reparent_list_lrus walks every list_lru of the
// host, two per superblock: milliseconds on a host with many mounts, perf on this machine). So an
// emptied container's memory cgroup is reset and renamed to a spare (`.spare-N`, beside the
// containers: v1 renames only within one parent), and the next container under that parent
// renames a spare to its own name instead of a mkdir. v1 only: cgroup2 has no rename.
//
// Reset: the limits taken back, the high-water marks and fail counters zeroed, and what is still
// charged to it reclaimed (memory.force_empty) when that is more than LEFTOVER, so `stats` shows
// nothing of the old container but at most LEFTOVER of kernel objects (its dentries and inodes:
// a /bin/true leaves ~160 KiB). Reclaim is not free: it runs every shrinker of the host for the
// cgroup (perf: ~1 ms a time here), which would give back most of what the pool saves. Only a
// cgroup holding little (SMALL_ENOUGH) is kept: reclaiming a large page cache would stall
// skiffd's event loop; such a one is removed as before. The oom_kill counter cannot be reset:
// whoever reads it takes the count at take() as its baseline.
import { readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { oomKillCount } from './oom-watch.js';

/** Spares kept at most, for the whole skiffd: a burst's surplus is removed as before. */
const MAX_SPARES = 32;
/** A memory cgroup charged with more than this at its container's end is removed, not kept. */
const SMALL_ENOUGH = 16 << 20;
/** What a spare may keep charged of its last container without a force_empty. */
const LEFTOVER = 1 << 20;
export const SPARE_PREFIX = '.spare-';

/** The writes that make a used memory cgroup like a new one; memsw first (it must stay ≥ the memory limit). */
const RESET: [file: string, value: string][] = [
  ['memory.memsw.limit_in_bytes', '-1'], ['memory.limit_in_bytes', '-1'], ['memory.soft_limit_in_bytes', '-1'],
  ['memory.max_usage_in_bytes', '0'], ['memory.memsw.max_usage_in_bytes', '0'],
  ['memory.failcnt', '0'], ['memory.memsw.failcnt', '0'],
];

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export class MemcgPool {
  /** spare directories by the directory they are in */
  private readonly spares = new Map<string, string[]>();
  private count = 0;
  private seq = 0;

  /**
   * Renames a spare beside `dir` to `dir`: its oom_kill counter as it is now (the baseline),
   * or null when there is none (the caller makes the directory).
   */
  take(dir: string): number | null {
    const list = this.spares.get(dirname(dir));
    const spare = list?.pop();
    if (spare === undefined) return null;
    this.count--;
    try {
      renameSync(spare, dir);
    } catch {
      this.remove(spare); // dir exists (left by a dead skiffd), or the spare went: not used
      return null;
    }
    return oomKillCount(read(`${dir}/memory.oom_control`) ?? '');
  }

  /**
   * Keeps an emptied container memory cgroup as a spare: true if kept (renamed away), false if
   * the caller is to remove it (pool full, holding too much, or a reset the kernel refused).
   */
  give(dir: string): boolean {
    if (this.count >= MAX_SPARES) return false;
    if ((read(`${dir}/cgroup.procs`) ?? 'gone').trim() !== '') return false;
    const usage = Number((read(`${dir}/memory.usage_in_bytes`) ?? '').trim());
    if (!Number.isFinite(usage) || usage > SMALL_ENOUGH) return false;
    try {
      if (usage > LEFTOVER) writeFileSync(`${dir}/memory.force_empty`, '0');
      for (const [file, value] of RESET) {
        try {
          writeFileSync(`${dir}/${file}`, value);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // no swap accounting: no memsw files
        }
      }
      const spare = `${dirname(dir)}/${SPARE_PREFIX}${process.pid}-${this.seq++}`;
      renameSync(dir, spare);
      const list = this.spares.get(dirname(dir)) ?? [];
      list.push(spare);
      this.spares.set(dirname(dir), list);
      this.count++;
      return true;
    } catch {
      return false;
    }
  }

  /** Removes the spares in `parentDir` (a fleet level going), or all of them (skiffd's close). */
  drain(parentDir?: string): void {
    for (const [at, list] of this.spares) {
      if (parentDir !== undefined && at !== parentDir) continue;
      for (const spare of list) this.remove(spare);
      this.count -= list.length;
      this.spares.delete(at);
    }
  }

  private remove(spare: string): void {
    try {
      rmdirSync(spare);
    } catch {
      // gone already
    }
  }
}
