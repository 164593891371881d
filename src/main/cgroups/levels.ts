// The levels above the containers' cgroups: the parent skiffd owns and a level per fleet,
// <hierarchy>/<parent>[/<fleet>], in every hierarchy skiffd uses. Made once per skiffd (and
// again after one went with its last container), prepared so the cgroups below them work,
// carrying a fleet's limits, and removed when empty: at a fleet's last container, and at close.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import type { ResourcesSpec } from '../../spec/resources.js';
import type { CgroupLayout } from './layout.js';
import { limitWrites, writeLimits, type Controller } from './limits.js';
import { SPARE_PREFIX } from './spare-dirs.js';

export class Levels {
  /** the levels this skiffd made or adopted, so counted as made until removed */
  private readonly made = new Set<string>();
  /**
   * The levels this skiffd made or adopted until they have gone from every hierarchy: a level can
   * go from some first (a container joins only some hierarchies), and is then no longer `made`
   * (ensure() makes it anew), yet must still be removed at close from where it stays.
   */
  private readonly ours = new Set<string>();
  /** limits on a fleet as a whole, by its level (<parent>/<fleet>): written whenever the level is made */
  readonly limits = new Map<string, ResourcesSpec>();

  constructor(
    private readonly layout: CgroupLayout,
    private readonly roots: string[],
    /** a controller's hierarchy root (throws CgroupUnavailable without it) */
    private readonly controllerRoot: (c: Controller) => string,
  ) {}

  private get version(): 1 | 2 {
    return this.layout.version;
  }

  /** Whether this skiffd made (or adopted) the level and has not seen it go since. */
  has(level: string): boolean {
    return this.made.has(level);
  }

  /** A level removed behind our back (the last container of a fleet went meanwhile): made anew by ensure(). */
  forget(level: string): void {
    this.made.delete(level);
  }

  /**
   * The parent (and fleet) levels, once per skiffd. On v1 the cpuset level gets its parent's
   * cpus and mems and clone_children, so that every container cgroup below it starts with
   * CPUs and memory nodes (an empty cpuset refuses tasks). On v2 the levels pass the
   * controllers down (cgroup.subtree_control).
   */
  ensure(path: string): void {
    const parts = path.split('/');
    for (let depth = 1; depth < parts.length; depth++) {
      const level = parts.slice(0, depth).join('/');
      if (this.made.has(level)) continue;
      this.dropStaleSpares(level);
      for (const root of this.roots) {
        const dir = `${root}/${level}`;
        const made = mkdirSync(dir, { recursive: true }) !== undefined;
        if (this.version === 1 && this.layout.v1.some((h) => h.mount === root && h.controllers.includes('cpuset'))) {
          const up = depth === 1 ? root : `${root}/${parts.slice(0, depth - 1).join('/')}`;
          if (made || readOr(`${dir}/cpuset.cpus`, '').trim() === '') {
            writeFileSync(`${dir}/cpuset.cpus`, readFileSync(`${up}/cpuset.cpus`, 'utf8').trim() || '\n');
            writeFileSync(`${dir}/cpuset.mems`, readFileSync(`${up}/cpuset.mems`, 'utf8').trim() || '\n');
          }
          writeFileSync(`${dir}/cgroup.clone_children`, '1');
        }
      }
      if (this.version === 2) {
        const enable = [...this.layout.controllers].filter((c) => ['memory', 'cpu', 'pids', 'cpuset'].includes(c)).map((c) => `+${c}`).join(' ');
        const up = depth === 1 ? this.layout.root : `${this.layout.root}/${parts.slice(0, depth - 1).join('/')}`;
        if (enable) writeFileSync(`${up}/cgroup.subtree_control`, enable);
        if (enable && depth === parts.length - 1) writeFileSync(`${this.layout.root}/${level}/cgroup.subtree_control`, enable);
      }
      // A fleet's own limits, once its controllers are there (v2: enabled by the level above).
      const limits = this.limits.get(level);
      if (limits) writeLimits((c) => `${this.controllerRoot(c)}/${level}`, limitWrites(this.version, limits));
      this.made.add(level);
      this.ours.add(level);
    }
  }

  /** The levels of a container adopted after a skiffd restart: they count as ours, to be removed at close. */
  adopt(path: string): void {
    const parts = path.split('/');
    for (let depth = 1; depth < parts.length; depth++) this.dropStaleSpares(parts.slice(0, depth).join('/'));
    for (let depth = 1; depth < parts.length; depth++) {
      this.made.add(parts.slice(0, depth).join('/'));
      this.ours.add(parts.slice(0, depth).join('/'));
    }
  }

  /** Spare cgroups a skiffd that died left in a level (spare-dirs.ts), in any hierarchy: removed once, when the level is first ours. */
  private dropStaleSpares(level: string): void {
    if (this.version !== 1 || this.made.has(level)) return;
    for (const root of this.roots) {
      let names: string[];
      try {
        names = readdirSync(`${root}/${level}`);
      } catch {
        continue; // not made yet
      }
      for (const name of names.filter((n) => n.startsWith(SPARE_PREFIX))) {
        try {
          rmdirSync(`${root}/${level}/${name}`);
        } catch {
          // in use after all (another skiffd's): left alone
        }
      }
    }
  }

  /** rmdir of the level in every hierarchy; one that still holds containers stays. */
  remove(level: string): void {
    let gone = false;
    let left = false;
    for (const root of this.roots) {
      try {
        rmdirSync(`${root}/${level}`);
        gone = true;
      } catch (err) {
        // still holds containers (ENOENT: gone already, or never made here)
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left = true;
      }
    }
    if (gone) this.made.delete(level);
    if (!left) this.ours.delete(level);
  }

  /** At skiffd's close: every level, deepest first, if no container (adopted later by a new skiffd) holds it. */
  removeAll(): void {
    const levels = [...this.ours].sort((a, b) => b.length - a.length);
    for (const level of levels) this.remove(level);
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
