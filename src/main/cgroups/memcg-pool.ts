// Spare v1 memory cgroups, reused instead of made and removed. Removing a memory cgroup is the
// dearest part of a container's cgroups by far, and it is not skiffd's CPU: the kernel offlines
// it in a kworker (mem_cgroup_css_offline → memcg_reparent_list_lrus walks every list_lru of the
// host, two per superblock: milliseconds on a host with many mounts, perf on this machine). So an
// emptied container's memory cgroup is reset and renamed to a spare (spare-dirs.ts: `.spare-…`
// beside the containers), and the next container under that parent renames a spare to its own
// name instead of a mkdir. v1 only: cgroup2 has no rename.
//
// Reset: the peak and the fail count zeroed (COUNTERS), and what is still charged to it reclaimed
// (memory.force_empty) when that is more than LEFTOVER, so `stats` shows nothing of the old
// container but at most LEFTOVER of kernel objects (its dentries and inodes: a /bin/true leaves
// ~160 KiB). Reclaim is not free: it runs every shrinker of the host for the cgroup (perf: ~1 ms
// a time here), which would give back most of what the pool saves. Only a cgroup holding little
// (SMALL_ENOUGH) is kept: reclaiming a large page cache would stall skiffd's event loop; such a
// one is removed as before. The oom_kill counter cannot be reset: whoever reads it takes the
// count at take() as its baseline (the count its last container ended with: an empty cgroup has
// no OOM kills). A spare keeps its limits, keyed by them as the cpu and pids
// spares are (limit-spares.ts): a container asking for the same ones takes it and writes none;
// else it takes any spare, whose limits are first taken back (as a new cgroup's), then written.
import { writeFileSync } from 'node:fs';
import { readCgroupFile } from './cgroup-file.js';
import type { LimitWrite } from './limits.js';
import { keyAfter, keyIn } from './limit-spares.js';
import { oomKillCount, type OomWatch } from './oom-watch.js';
import { SpareDirs } from './spare-dirs.js';

export { SPARE_PREFIX } from './spare-dirs.js';

/** Spares kept at most, for the whole skiffd: a burst's surplus is removed as before. */
const MAX_SPARES = 32;
/** A memory cgroup charged with more than this at its container's end is removed, not kept. */
const SMALL_ENOUGH = 16 << 20;
/** What a spare may keep charged of its last container without a force_empty. */
const LEFTOVER = 1 << 20;

/** v1's "no limit", as a limit file reads. */
const UNLIMITED = '9223372036854771712';
/** The limit files a spare is keyed by, with a new cgroup's values; memsw first (it must stay ≥ the memory limit when taken back). */
const LIMITS: [file: string, fresh: string][] = [
  ['memory.memsw.limit_in_bytes', UNLIMITED], ['memory.limit_in_bytes', UNLIMITED], ['memory.soft_limit_in_bytes', UNLIMITED],
];
/*
 * The counters of a used memory cgroup are reset for the next container by launch.c's
 * skiff_cg_keep, in the call that renames it (SpareDirs.keep): its peak, which `stats` shows
 * (Docker's v1 `max_usage`), and its fail count, what a user reading the cgroup looks at first.
 * Not the memsw peak and fail count, which nothing of skiff reads: each reset is an open, a write
 * and a close of a start's cost (~10 µs of CPU here, more under load), and a start with limits
 * is held to ≤ 0.3 ms in all (issue #13). They keep the last container's figures.
 */

/** Writes `value` to each of `files` in `dir`; a memsw file absent (no swap accounting) is skipped. */
function writeEach(dir: string, files: readonly string[], value: string): void {
  for (const file of files) {
    try {
      writeFileSync(`${dir}/${file}`, value);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

const read = readCgroupFile;

/** What a spare keeps of its last container: its oom_kill counter, and its OOM watch (v1's eventfd registration), if it had one. */
interface Kept {
  oomKills: number;
  watch: OomWatch | null;
}

export class MemcgPool {
  /** each spare with its oom_kill counter and OOM watch; a watch ends with a spare removed untaken */
  private readonly spares = new SpareDirs<Kept>(MAX_SPARES, 'm', (kept) => kept.watch?.stop());
  /** the key of each container memory cgroup made or taken with known limits, by its directory */
  private readonly made = new Map<string, string>();
  /** the limit files of this host (memsw only with swap accounting) */
  private readonly limits: [file: string, fresh: string][];

  constructor(memoryRoot: string) {
    this.limits = LIMITS.filter(([file]) => !file.includes('memsw') || read(`${memoryRoot}/${file}`) !== null);
  }

  /**
   * Renames a spare beside `dir` to `dir`, preferably one that holds what `writes` would write:
   * its oom_kill counter as it is now (the baseline), whether its limits are already those
   * (the caller skips the memory writes) and its idle OOM watch (now the caller's), or null when
   * there is none (the caller makes the directory).
   */
  take(dir: string, writes: readonly LimitWrite[]): { oomBase: number; limitsHeld: boolean; watch: OomWatch | null } | null {
    const want = keyAfter(this.limits, 'memory', writes);
    const held = want === null ? null : this.spares.take(dir, want);
    const taken = held ?? this.spares.take(dir, null);
    if (taken === null) return null;
    const { oomKills: oomBase, watch } = taken.value;
    if (held !== null) return { oomBase, limitsHeld: true, watch };
    try {
      writeEach(dir, this.limits.map(([file]) => file), '-1');
    } catch {
      // left as the caller's writes find it: they fail naming the limit, and the cgroup goes with its create
    }
    return { oomBase, limitsHeld: false, watch };
  }

  /** `dir` now holds what `writes` wrote on a new memory cgroup (made, or taken): its key, known without reading it back. */
  wrote(dir: string, writes: readonly LimitWrite[]): void {
    const key = keyAfter(this.limits, 'memory', writes);
    if (key !== null) this.made.set(dir, key);
  }

  /** Limits written into `dir` since (docker update): its key is read back when it is kept. */
  changed(dir: string): void {
    this.made.delete(dir);
  }

  /**
   * Keeps an emptied container memory cgroup as a spare, with its oom_kill counter (`oomKills`,
   * as the caller just read it; null: read here) and its idle OOM watch, if any: true if kept
   * (renamed away; the watch is the pool's), false if the caller is to remove it (holding too
   * much, or a reset the kernel refused; the watch is still the caller's).
   */
  give(dir: string, oomKills: number | null, watch: OomWatch | null = null): boolean {
    const known = this.made.get(dir);
    this.made.delete(dir);
    const key = known ?? keyIn(dir, this.limits);
    if (key === null) return false;
    const count = oomKills ?? oomKillCount(read(`${dir}/memory.oom_control`) ?? '');
    // Empty, holding at most SMALL_ENOUGH, reclaimed above LEFTOVER, its counters reset, renamed: one native call.
    return this.spares.keep(dir, key, { oomKills: count, watch }, { maxUsage: SMALL_ENOUGH, leftover: LEFTOVER });
  }

  /** Removes the spares in `parentDir` (a fleet level going), or all of them (skiffd's close). */
  drain(parentDir?: string): void {
    this.spares.drain(parentDir);
  }
}
