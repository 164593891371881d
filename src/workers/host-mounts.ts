// Where a host directory can be seen, through the host's mount table: the path itself and
// every other mount of the same filesystem whose root lies above it (bind mounts of a parent,
// the same disk mounted twice). skiffd hides its state directory (which holds its API socket)
// from every container at all of these places, not just at the path it was configured with.
import { openSync, readFileSync } from 'node:fs';
import { pollNow } from '../sys/libc.js';
import { POLLPRI } from '../sys/constants.js';

export interface MountEntry {
  id: number;
  parent: number;
  /** major:minor of the filesystem (the superblock) */
  device: string;
  /** the directory of that filesystem this mount shows */
  root: string;
  mountPoint: string;
  /** the mount's own options (ro, nosuid, …) */
  options: string;
  fstype: string;
}

/** A place where a hidden directory shows on the host. */
export interface HostAlias {
  readonly path: string;
  /** the mount it shows through is the one at `/` (what a `--rootfs host` container binds, without submounts) */
  readonly onRootMount: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/<pid>/mountinfo (proc(5)); lines it cannot read are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6); // optional fields (shared:N …) end at a lone "-"
    if (sep < 0 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) continue;
    entries.push({ id: Number(f[0]), parent: Number(f[1]), device: f[2]!, root: unescape(f[3]!), mountPoint: unescape(f[4]!), options: f[5]!, fstype: f[sep + 1] ?? '' });
  }
  return entries;
}

/** `path` relative to `dir` ("" for dir itself), or null when it is not at or below it. */
export function below(path: string, dir: string): string | null {
  if (path === dir) return '';
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : null;
}

function join(dir: string, rel: string): string {
  if (rel === '') return dir;
  return dir.endsWith('/') ? `${dir}${rel}` : `${dir}/${rel}`;
}

/**
 * The mount `path` is on: the deepest mount point above it, and of several mounts on that
 * point the last one listed (it covers the others).
 */
export function mountOf(path: string, mounts: readonly MountEntry[]): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    if (below(path, m.mountPoint) === null) continue;
    if (best === null || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best;
}

/**
 * Every place on the host where the absolute, symlink-free directory `path` shows: for each
 * mount of the same filesystem whose root is at or above the directory's place in it.
 * Places that a deeper mount covers on the host are still listed: a container can see below
 * a host mount (a non-recursive bind does), so hiding them too is the safe side.
 */
export function hostAliases(path: string, mounts: readonly MountEntry[]): HostAlias[] {
  const home = mountOf(path, mounts);
  if (home === null) return [{ path, onRootMount: false }];
  const inFs = join(home.root, below(path, home.mountPoint)!);
  const rootMount = mountOf('/', mounts.filter((m) => m.mountPoint === '/'));
  const seen = new Set<string>();
  const aliases: HostAlias[] = [];
  for (const m of mounts) {
    if (m.device !== home.device) continue;
    const rel = below(inFs, m.root);
    if (rel === null) continue;
    const alias = join(m.mountPoint, rel);
    if (seen.has(alias)) continue;
    seen.add(alias);
    aliases.push({ path: alias, onRootMount: m === rootMount });
  }
  return aliases;
}

/**
 * The caller's mount table, parsed again only when it has changed. The kernel reports a change
 * of a mount namespace's table to poll(2) on an open mountinfo file (POLLPRI, once per change,
 * counted from the poller's last look), so a launcher reads and parses its table once, not on
 * every start, and still never works from a table older than the poll it just made.
 */
class MountTable {
  private fd: number | null = null;
  private mounts: MountEntry[] = [];
  /** aliases worked out from this table, by the paths asked for (a launcher is always asked the same few) */
  private aliases = new Map<string, readonly HostAlias[]>();

  current(): MountEntry[] {
    if (this.fd === null) {
      this.fd = openSync('/proc/self/mountinfo', 'r');
      this.reparse();
    } else if ((pollNow(this.fd, POLLPRI) & POLLPRI) !== 0) {
      this.reparse();
    }
    return this.mounts;
  }

  private reparse(): void {
    this.mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    this.aliases = new Map();
  }

  /**
   * The aliases of `paths` in the current table: worked out again only after the table changed.
   * A start asked for them on every call, the same state directory each time; the poll in
   * current() still runs every time, so an answer is never older than the table it came from.
   */
  aliasesOf(paths: readonly string[]): readonly HostAlias[] {
    const mounts = this.current();
    const key = paths.join('\0');
    let hit = this.aliases.get(key);
    if (hit === undefined) {
      hit = paths.flatMap((p) => hostAliases(p, mounts));
      if (this.aliases.size >= 16) this.aliases.clear();
      this.aliases.set(key, hit);
    }
    return hit; // shared with later starts: every caller takes it read-only
  }
}

const table = new MountTable();

/** The aliases of each path in the caller's mount table. */
export function readHostAliases(paths: readonly string[]): readonly HostAlias[] {
  if (paths.length === 0) return [];
  return table.aliasesOf(paths);
}
