// skiffd's cgroups: one per container under a parent skiffd owns (`skiff` by default), with a
// level per fleet: <hierarchy>/<parent>[/<fleet>]/<container>. A fleet's level may carry limits
// on the fleet as a whole (fleetLimits). skiffd creates it before the
// launch; PID 1 joins it before anything else (the plan's join_cgroup operations); skiffd
// empties and removes it after PID 1's exit, so a container has ended only when nothing of it
// runs any more, and no directory outlives it. Nothing outside the parent is ever touched.
//
//   create ─▶ mkdir in every hierarchy, write the limits ─▶ launch (PID 1 joins) ─▶ … exit
//   finish ─▶ read the OOM counter ─▶ kill until every cgroup.procs is empty ─▶ rmdir
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { NO_RESOURCES as NO_LIMITS, RESOURCE_FIELDS, type ResourcesSpec } from '../../spec/resources.js';
import type { CgroupLayout } from './layout.js';
import { CgroupUnavailable, checkLimits, hierarchiesOf } from './hierarchies.js';
import { CONTROLLER_OF, limitWrites, unlimitWrites, writeLimits, type Controller, type LimitWrite } from './limits.js';
import { oomKillCount, type OomWatch } from './oom-watch.js';
import { Levels } from './levels.js';
import { MemcgPool } from './memcg-pool.js';
import { LimitSpares } from './limit-spares.js';
import { readSample, type CgroupSample } from './sample.js';
import { readCgroupFile } from './cgroup-file.js';
import { moveAll } from './move-all.js';

export type { CgroupSample } from './sample.js';
export { CgroupUnavailable, LimitRefused } from './hierarchies.js';
import { cgroupPids, killCgroup, type KillMethod, type KillTarget } from './kill.js';

export interface ContainerCgroup {
  /** relative to each hierarchy's root: <parent>[/<fleet>]/<name> */
  path: string;
  /** the container's directory in every hierarchy it joins */
  dirs: string[];
}

/** A container's cgroup directory already holds processes skiffd does not know. */
export class CgroupInUse extends Error {
  constructor(readonly dir: string) {
    super(`cgroup \`${dir}\` already holds processes this skiffd did not start (another skiffd with the same --cgroup-parent?)`);
    this.name = 'CgroupInUse';
  }
}

/** How long finish() keeps killing a cgroup that does not empty (a process stuck in the kernel). */
const EMPTY_TIMEOUT_MS = 10_000;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export interface CgroupsOptions {
  /**
   * How a container's cgroup is killed whole (kill.ts): `auto` takes cgroup.kill where the
   * kernel has it (v2, or a hybrid host's unified hierarchy), else the freezer; `freezer` takes
   * the freezer even so (v1's way: a host without the unified hierarchy, and its tests here).
   */
  kill?: 'auto' | 'freezer';
  /** v1: reuse emptied memory cgroups, and cpu and pids ones with their limits, instead of removing them (memcg-pool.ts, limit-spares.ts; default true) */
  spares?: boolean;
}

export class Cgroups {
  /** the hierarchy roots a container may join (hierarchies.ts; rootsFor says which it does): v1 controller mounts plus the one it is killed through, or the v2 root */
  readonly roots: string[];
  /** the hierarchies each container of this skiffd joined, by its path (rootsFor, or found after a restart) */
  private readonly joined = new Map<string, string[]>();
  /** v1's spare memory cgroups (memcg-pool.ts); null on v2 or without the memory controller */
  private readonly pool: MemcgPool | null;
  /** v1's spare cpu and pids cgroups, by the limits they hold (limit-spares.ts); null on v2 */
  private readonly limitSpares: LimitSpares | null;
  /** the oom_kill counter a reused memory cgroup had when its container got it, by path */
  private readonly oomBase = new Map<string, number>();
  /** the idle OOM watch a reused memory cgroup came with, by path, until its container takes it (takeOomWatch) */
  private readonly spareWatches = new Map<string, OomWatch>();
  /** how a container's cgroup is killed whole (kill.ts) */
  readonly killMethod: KillMethod;
  /** the root of the hierarchy killMethod works in (null: signals) */
  private readonly killRoot: string | null;
  private readonly byController: Map<string, string>;
  /** the hierarchy roots every container joins (hierarchies.ts) */
  private readonly always: string[];
  /** the parent and fleet levels, and a fleet's limits (levels.ts) */
  private readonly levels: Levels;
  /** close() has run: a container's cgroup removed later keeps no spare and takes the levels with it */
  private closed = false;

  constructor(readonly layout: CgroupLayout, readonly parent: string, options: CgroupsOptions = {}) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/.test(parent)) {
      throw new Error(`--cgroup-parent must be a relative path of names (letters, digits, _ . -), got ${JSON.stringify(parent)}`);
    }
    ({ roots: this.roots, byController: this.byController, killMethod: this.killMethod, killRoot: this.killRoot, always: this.always } = hierarchiesOf(layout, options.kill));
    this.levels = new Levels(layout, this.roots, (c) => this.controllerRoot(c));
    this.pool = this.version === 1 && this.byController.has('memory') && options.spares !== false ? new MemcgPool(this.byController.get('memory')!) : null;
    this.limitSpares = this.version === 1 && options.spares !== false ? new LimitSpares(layout.v1) : null;
  }

  get version(): 1 | 2 {
    return this.layout.version;
  }

  /**
   * Throws CgroupUnavailable naming the first limit whose controller this host lacks, or
   * LimitRefused for CPUs or memory nodes the host does not have (hierarchies.ts).
   */
  check(r: ResourcesSpec): void {
    checkLimits(r, this.layout, this.byController);
  }

  pathOf(name: string, fleet: string | null): string {
    return fleet === null ? `${this.parent}/${name}` : `${this.parent}/${fleet}/${name}`;
  }

  /** A container's cgroup: the hierarchies it joined, or (not made by this skiffd) those that have its directory. */
  at(path: string): ContainerCgroup {
    const roots = this.joined.get(path) ?? this.roots.filter((root) => existsSync(`${root}/${path}`));
    return { path, dirs: roots.map((root) => `${root}/${path}`) };
  }

  /**
   * The hierarchies a container with limits `r` at `path` joins: v2's one; on v1 memory and
   * cpuacct (stats, OOM), the one it is killed through, and those whose controllers its own
   * limits or its fleet's use. In this.roots' order.
   */
  rootsFor(path: string, r: ResourcesSpec): string[] {
    if (this.version === 2) return this.roots;
    const want = new Set<string>(this.always);
    const parts = path.split('/');
    const levels = parts.slice(1, -1).map((_, i) => this.levels.limits.get(parts.slice(0, i + 2).join('/'))).filter((l) => l !== undefined);
    for (const limits of [r, ...levels]) {
      for (const field of RESOURCE_FIELDS) if (limits[field] !== null) want.add(this.controllerRoot(CONTROLLER_OF[field]));
    }
    return this.roots.filter((root) => want.has(root));
  }

  /**
   * The file of each hierarchy the launch plan's join_cgroup operations write "0" to: a v1
   * hierarchy's `tasks`, the cgroup2 one's `cgroup.procs`. The writer is a single-threaded
   * process (PID 1, or an exec's child before its clone: clone without CLONE_THREAD), so moving
   * the writing thread moves all of it; and a v1 `tasks` write of "0" moves the writer alone,
   * which the kernel (≥ 6.0, cgroup_procs_write_start) does without write-locking the host-wide
   * `cgroup_threadgroup_rwsem`: that lock's RCU grace periods were a start's stalls (its p99), and
   * everyone's forks and exits wait on it meanwhile. cgroup2 refuses a thread's move across
   * domains (`cgroup.threads`: EOPNOTSUPP), so its join stays a process move.
   */
  procsFiles(cg: ContainerCgroup): string[] {
    return cg.dirs.map((d) => `${d}/${this.version === 2 || (this.layout.unified !== null && d.startsWith(`${this.layout.unified}/`)) ? 'cgroup.procs' : 'tasks'}`);
  }

  private dirOf(cg: ContainerCgroup, c: Controller): string {
    const root = this.byController.get(c);
    if (root === undefined) throw new CgroupUnavailable('memory', c);
    return `${root}/${cg.path}`;
  }

  private controllerRoot(c: Controller): string {
    const root = this.byController.get(c);
    if (root === undefined) throw new CgroupUnavailable('memory', c);
    return root;
  }

  /**
   * Limits on a fleet as a whole (x-skiff.resources), on its level <parent>/<fleet>, which every
   * replica's cgroup is under: the level is made now and the limits written, and written again
   * whenever the level is made anew (it goes with the fleet's last running container). A limit
   * set before and not now is taken back (unlimited); null takes back all. Throws as check()
   * and create() do; a level this call made is removed again, so a refused limit leaves nothing.
   */
  fleetLimits(fleet: string, r: ResourcesSpec | null): void {
    const level = `${this.parent}/${fleet}`;
    const dirOf = (c: Controller): string => `${this.controllerRoot(c)}/${level}`;
    // Limits this skiffd set that the fleet no longer asks for are taken back where the level is.
    const before = this.levels.limits.get(level);
    if (before) {
      const dropped = Object.fromEntries(Object.entries(before).map(([k, v]) => [k, (r?.[k as keyof ResourcesSpec] ?? null) === null ? v : null])) as unknown as ResourcesSpec;
      if (this.roots.some((root) => existsSync(`${root}/${level}`))) writeLimits(dirOf, unlimitWrites(this.version, dropped));
    }
    if (r === null) {
      this.levels.limits.delete(level);
      return;
    }
    this.check(r);
    const existed = this.roots.some((root) => existsSync(`${root}/${level}`));
    try {
      this.levels.ensure(`${level}/-`);
      writeLimits(dirOf, limitWrites(this.version, r));
    } catch (err) {
      if (!existed) this.levels.remove(level);
      throw err;
    }
    this.levels.limits.set(level, r);
    // Replicas already running join the hierarchies of limits the fleet did not have before.
    for (const path of [...this.joined.keys()].filter((p) => p.startsWith(`${level}/`))) this.extend(this.at(path), this.rootsFor(path, NO_LIMITS));
  }

  /**
   * Makes the container's cgroup in every hierarchy and writes its limits. On failure, removes
   * what it made and throws (a LimitError names the limit). An existing directory (left by a
   * start that failed, or a skiffd that died) is reused only if empty.
   */
  create(path: string, r: ResourcesSpec): ContainerCgroup {
    const cg = { path, dirs: this.rootsFor(path, r).map((root) => `${root}/${path}`) };
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (!this.levels.has(parent)) this.levels.ensure(path);
    const memDir = this.pool ? this.memoryDir(cg) : null;
    const all = limitWrites(this.version, r);
    let writes = all;
    try {
      for (const d of cg.dirs) {
        // A spare that holds this container's limits already: nothing to write there.
        const mem = d === memDir ? this.pool!.take(d, writes) : null;
        if (mem !== null) {
          this.oomBase.set(path, mem.oomBase);
          if (mem.watch) this.spareWatches.set(path, mem.watch);
          if (mem.limitsHeld) writes = writes.filter((w) => w.controller !== 'memory');
          continue;
        }
        const root = d.slice(0, -path.length - 1);
        if (this.limitSpares?.take(root, d, writes)) {
          const c = this.limitSpares.controllerOf(root);
          writes = writes.filter((w) => w.controller !== c);
          continue;
        }
        try {
          mkdirSync(d);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') {
            // Left by a skiffd that died: reused if empty. Processes in it are not ours to adopt
            // or kill (another skiffd with the same --cgroup-parent, say): refused by name.
            if (readOr(`${d}/cgroup.procs`, '').trim() === '') continue;
            throw new CgroupInUse(d);
          }
          if (code !== 'ENOENT') throw err;
          // a level removed behind our back (the last container of a fleet went meanwhile)
          this.levels.forget(parent);
          this.levels.ensure(path);
          mkdirSync(d, { recursive: true });
        }
      }
      writeLimits((c) => this.dirOf(cg, c), this.skipUnchangedPeriod(cg, writes));
    } catch (err) {
      this.removeDirs(cg);
      throw err;
    }
    // What each directory holds now, made or taken: a spare's key without reading it back.
    for (const d of cg.dirs) {
      if (d === memDir) this.pool!.wrote(d, all);
      else this.limitSpares?.wrote(d.slice(0, -path.length - 1), d, all);
    }
    this.joined.set(path, cg.dirs.map((d) => d.slice(0, -path.length - 1)));
    return cg;
  }

  /**
   * Without a v1 cpu.cfs_period_us write that would change nothing (a new cgroup's period is
   * already the default 100 ms): each write to it or to cfs_quota_us has the kernel check the
   * bandwidth of every CPU cgroup on the host (tg_set_cfs_bandwidth walks the whole task-group
   * tree), the dearest write of a start. A read costs almost nothing.
   */
  private skipUnchangedPeriod(cg: ContainerCgroup, writes: LimitWrite[]): LimitWrite[] {
    return writes.filter((w) => w.file !== 'cpu.cfs_period_us' || readOr(`${this.dirOf(cg, 'cpu')}/${w.file}`, '').trim() !== w.value);
  }

  /** A container adopted after a skiffd restart: its levels count as ours, to be removed at close. */
  adopt(path: string): void {
    this.levels.adopt(path);
    this.joined.set(path, this.roots.filter((root) => existsSync(`${root}/${path}`)));
  }

  /**
   * Changes a running container's limits (docker update). A limit whose hierarchy it has not
   * joined (--cpus on a container started without CPU limits) first brings it there (extend).
   */
  update(cg: ContainerCgroup, r: ResourcesSpec): ContainerCgroup {
    const grown = this.extend(cg, this.rootsFor(cg.path, r));
    for (const d of grown.dirs) {
      this.pool?.changed(d);
      this.limitSpares?.changed(d);
    }
    writeLimits((c) => this.dirOf(grown, c), limitWrites(this.version, r));
    return grown;
  }

  /**
   * Makes the container's directory in the hierarchies of `roots` it has not joined and moves
   * every one of its processes there, again until none is left behind (one forked meanwhile by
   * a process not yet moved is in the next round; one forked by a moved one is born there).
   */
  private extend(cg: ContainerCgroup, roots: string[]): ContainerCgroup {
    const have = this.joined.get(cg.path) ?? this.roots.filter((root) => existsSync(`${root}/${cg.path}`));
    const missing = roots.filter((root) => !have.includes(root));
    if (missing.length === 0) return cg;
    for (const root of missing) {
      mkdirSync(`${root}/${cg.path}`, { recursive: true });
      moveAll(cg.dirs, `${root}/${cg.path}`);
    }
    const all = this.roots.filter((root) => have.includes(root) || missing.includes(root));
    this.joined.set(cg.path, all);
    return { path: cg.path, dirs: all.map((root) => `${root}/${cg.path}`) };
  }

  /** Every pid in the container's cgroup, in any hierarchy (one may have been joined alone). */
  pids(cg: ContainerCgroup): number[] {
    return cgroupPids(cg.dirs);
  }

  /** Where the container's cgroup is killed from (kill.ts). */
  killTarget(cg: ContainerCgroup): KillTarget {
    return {
      method: this.killMethod,
      dir: this.killRoot === null ? null : `${this.killRoot}/${cg.path}`,
      freezerVersion: this.version,
      dirs: cg.dirs,
    };
  }

  /**
   * SIGKILL to everything in the cgroup, whole: cgroup.kill, or freeze / kill each / thaw, so
   * that nothing escapes by forking meanwhile (kill.ts). Resolves once each has its signal.
   */
  killAll(cg: ContainerCgroup): Promise<void> {
    return killCgroup(this.killTarget(cg));
  }

  /** The container's memory cgroup directory (null: no memory controller). */
  memoryDir(cg: ContainerCgroup): string | null {
    const mem = this.byController.get('memory');
    return mem === undefined ? null : `${mem}/${cg.path}`;
  }

  /** Whether the container's memory is limited, by its own limit or its fleet's: where an OOM kill can happen in it. */
  memoryLimited(path: string, r: ResourcesSpec): boolean {
    const parts = path.split('/');
    return r.memory !== null || parts.slice(1).some((_, i) => (this.levels.limits.get(parts.slice(0, i + 1).join('/'))?.memory ?? null) !== null);
  }

  /** The oom_kill counter when the container got its memory cgroup: 0 for a new one, more for a reused one (memcg-pool.ts). */
  oomBaseline(cg: ContainerCgroup): number {
    return this.oomBase.get(cg.path) ?? 0;
  }

  /**
   * The OOM watch the container's memory cgroup was kept with as a spare (its last container's,
   * idle: oom-watch.ts), now the caller's to `reuse` and to hand back to finish(); null when it
   * came without one (made new, or its last container had none). A v1 registration is an eventfd,
   * an open memory.oom_control, a write to cgroup.event_control and an epoll_ctl, and its end
   * two more calls and two closes: kept with the memory cgroup (renamed or not, the kernel's
   * event is the cgroup's), a start with a memory limit makes none of them.
   */
  takeOomWatch(cg: ContainerCgroup): OomWatch | null {
    const w = this.spareWatches.get(cg.path) ?? null;
    this.spareWatches.delete(cg.path);
    return w;
  }

  /** How many times the kernel's OOM killer killed in it (v1 memory.oom_control, v2 memory.events). */
  oomKills(cg: ContainerCgroup): number {
    const dir = this.memoryDir(cg);
    if (dir === null) return 0;
    return oomKillCount(readCgroupFile(`${dir}/${this.version === 1 ? 'memory.oom_control' : 'memory.events'}`) ?? '');
  }

  /**
   * After PID 1's exit: kills whatever is left (a process that joined from outside, one that
   * escaped the pid namespace's teardown) until every cgroup.procs is empty, then removes the
   * directories. Resolves with the OOM kill counter, read before anything is removed, or
   * `counted`: the counter the caller just read through its OOM watch (oom-watch.ts), which
   * reads it with one pread where this would open, read and close the file. `watch`: that OOM
   * watch, idle, kept with the memory cgroup if it becomes a spare, else stopped here.
   */
  async finish(cg: ContainerCgroup, counted: number | null = null, watch: OomWatch | null = null): Promise<{ oomKills: number; leftover: boolean }> {
    const oomKills = counted ?? this.oomKills(cg);
    // The usual case: PID 1's exit took the whole pid namespace with it, the cgroup is empty
    // and rmdir succeeds at once. EBUSY means something still runs in it.
    if (this.removeDirs(cg, oomKills, watch)) return { oomKills, leftover: false };
    const deadline = Date.now() + EMPTY_TIMEOUT_MS;
    let wait = 1;
    // Kill what is left, until rmdir succeeds: a killed process leaves cgroup.procs once the
    // kernel has run its exit, and a dying one may hold the directory a moment longer (EBUSY
    // with an empty cgroup.procs), so the loop retries rmdir rather than trusting the list.
    for (;;) {
      await this.killAll(cg);
      await delay(wait);
      wait = Math.min(wait * 2, 50);
      if (this.removeDirs(cg, oomKills)) return { oomKills, leftover: false };
      if (Date.now() > deadline) return { oomKills, leftover: true };
    }
  }

  /**
   * rmdir in every hierarchy (or kept as a spare), then the fleet level if that left it empty;
   * true if all went. `oomKills`: the OOM counter the caller just read (a memory spare keeps it);
   * `watch`: the container's idle OOM watch (a memory spare keeps it; else it is stopped).
   */
  removeDirs(cg: ContainerCgroup, oomKills: number | null = null, watch: OomWatch | null = null): boolean {
    let ok = true;
    // One the container never took (a start that failed, a caller without OOM watches) goes the same way.
    let w = watch ?? this.takeOomWatch(cg);
    w?.idle();
    // After close() no spare is kept: nobody would take it, and nobody would remove it.
    const memDir = this.pool && !this.closed ? this.memoryDir(cg) : null;
    for (const d of cg.dirs) {
      if (d === memDir && this.pool!.give(d, oomKills, w)) {
        w = null;
        continue;
      }
      if (!this.closed && this.limitSpares?.give(d.slice(0, -cg.path.length - 1), d)) continue;
      try {
        rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') ok = false;
      }
    }
    // Not kept (the cgroup not empty yet, or not a spare): the watch ends; a later round keeps the cgroup without one.
    w?.stop();
    if (ok) {
      this.joined.delete(cg.path);
      this.oomBase.delete(cg.path);
    }
    const up = cg.path.split('/').slice(0, -1).join('/');
    if (this.closed) {
      // A container's end that finishes after close() (skiffd's close still waits for the keeper,
      // and an exit's teardown may be mid-way): close() could not remove the levels above it
      // while its directory was there, so this is their last chance.
      this.levels.removeAll();
    } else if (up !== this.parent) {
      // The fleet's last container gone: its spares go too, so the level can.
      if (![...this.joined.keys()].some((p) => p.startsWith(`${up}/`))) {
        this.pool?.drain(`${this.byController.get('memory')!}/${up}`);
        this.limitSpares?.drain(up);
      }
      this.levels.remove(up);
    }
    return ok;
  }

  /** At skiffd's close: the parent levels, if no container (adopted later by a new skiffd) holds them. */
  close(): void {
    this.closed = true;
    this.pool?.drain();
    this.limitSpares?.drain();
    this.levels.removeAll();
  }

  /** The raw counters `stats` turns into Docker's shape (sample.ts), from the hierarchies the container joined. */
  sample(cg: ContainerCgroup): CgroupSample {
    const dirOf = (c: string): string | null => {
      const root = this.byController.get(c);
      return root !== undefined && cg.dirs.includes(`${root}/${cg.path}`) ? `${root}/${cg.path}` : null;
    };
    const killDir = this.killRoot === null ? null : `${this.killRoot}/${cg.path}`;
    // CPU time: v1's cpuacct where the container joined it (cpu,cpuacct, or a container made by an
    // earlier skiffd), else cpu.stat of its cgroup2 directory (v2, or the unified one it is killed through).
    const cpuacct = this.version === 1 ? dirOf('cpuacct') : null;
    const cgroup2 = this.version === 2 ? cg.dirs[0] ?? null : this.killRoot !== null && this.killRoot === this.layout.unified ? killDir : null;
    return readSample({
      memory: dirOf('memory'), cpuacct, cpuStat: cpuacct === null ? cgroup2 : null, pids: dirOf('pids'), memoryV1: this.version === 1,
      // No pids limit, so not in the pids hierarchy: its tasks, as pids.current counts them, from the one it is killed through.
      tasks: killDir === null ? null : `${killDir}/${this.killRoot === this.layout.unified ? 'cgroup.threads' : 'tasks'}`,
    });
  }
}
