// The supervisor's side of its containers' cgroups (src/main/cgroups does the cgroup files):
// one made before each run and joined by PID 1, killed with the container, emptied and
// removed after its exit (an OOM kill read from it then), limits checked at create and
// changed by `docker update`. A host without cgroups gets none of it, and no error.
import type { ResourcesSpec } from '../../spec/resources.js';
import { CgroupUnavailable, LimitRefused, type CgroupSample, type Cgroups } from '../cgroups/cgroups.js';
import { LimitError } from '../cgroups/limits.js';
import { StartError } from '../../workers/start.js';
import { log } from '../log.js';
import { OomWatcher, type FdPoller, type OomWatch } from '../cgroups/oom-watch.js';
import { InvalidArgument } from './errors.js';
import { namespaceInit } from './orphans.js';
import type { ContainerRecord } from './record.js';

export interface ContainerCgroupsOptions {
  /** the epoll set OOM notifications are waited on in (the reaper's); none: OOM kills are read at the exit only */
  poller?: FdPoller | null;
  /** an OOM kill in a container's cgroup, as it happens (once per kill; the last ones at the exit, before `die`) */
  onOom?: (r: ContainerRecord) => void;
}

/** A container's live OOM watch, and how many of its cgroup's kills were reported. */
interface Watched {
  watch: OomWatch | null;
  reported: number;
}

export class ContainerCgroups {
  private readonly oom: OomWatcher | null;
  /** by record id: the OOM watch of each running container whose memory is limited */
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly cgroups: Cgroups | null, private readonly defaultPidsLimit: number | null, private readonly o: ContainerCgroupsOptions = {}) {
    this.oom = cgroups && o.poller ? new OomWatcher(o.poller, cgroups.version) : null;
  }

  /** A limit whose controller this host lacks is the caller's to drop: refused before anything exists. */
  check(res: ResourcesSpec): void {
    try {
      this.cgroups?.check(res);
    } catch (err) {
      if (err instanceof CgroupUnavailable || err instanceof LimitRefused) throw new InvalidArgument(err.message, `resources.${err.field}`);
      throw err;
    }
  }

  /**
   * After a crash: the PID 1 a start in flight left in this record's cgroup (orphans.ts), with
   * the cgroup recorded; or null, with whatever the cgroup held killed and the cgroup removed.
   */
  async orphan(r: ContainerRecord): Promise<number | null> {
    const cgroups = this.cgroups;
    if (!cgroups || r.cgroup) return null;
    const cg = cgroups.at(cgroups.pathOf(r.name, r.fleet));
    if (cg.dirs.length === 0) return null;
    // Its levels are this skiffd's from now on, to be removed at close.
    cgroups.adopt(cg.path);
    const pids = cgroups.pids(cg);
    if (pids.length === 0) {
      cgroups.removeDirs(cg);
      return null;
    }
    const init = namespaceInit(pids);
    if (init !== null) {
      r.cgroup = cg.path;
      r.oomKilled = false;
      this.watchOom(r);
      return init;
    }
    await cgroups.finish(cg);
    return null;
  }

  /** A running container found after a skiffd restart: its cgroup is known again. */
  adopt(r: ContainerRecord): void {
    if (!r.cgroup) return;
    this.cgroups?.adopt(r.cgroup);
    this.watchOom(r);
  }

  /** Makes the cgroup of this run; returns the files PID 1 writes itself into (null: no cgroups); StartError for a refused limit. */
  make(r: ContainerRecord): string[] | null {
    const cgroups = this.cgroups;
    if (!cgroups) return null;
    let cg;
    try {
      cg = cgroups.create(cgroups.pathOf(r.name, r.fleet), this.effective(r.spec.resources));
    } catch (err) {
      // A limit the kernel refused (below what the cgroup already uses): this start's failure, by field.
      if (err instanceof LimitError) throw new StartError({ message: err.message, field: `resources.${err.field}`, code: err.code, exitCode: 125 });
      throw err;
    }
    r.cgroup = cg.path;
    r.oomKilled = false;
    this.watchOom(r);
    return cgroups.procsFiles(cg);
  }

  /**
   * The kernel's live OOM notification (src/main/cgroups/oom-watch.ts), for a container whose
   * memory is limited (its own limit or its fleet's): the only cgroups an OOM kill is local to.
   * A container without one still has its counter read at the exit. A refused registration is
   * logged and the exit's reading stands in for it.
   */
  private watchOom(r: ContainerRecord): void {
    const cg = this.of(r);
    const dir = cg ? this.cgroups!.memoryDir(cg) : null;
    // A reused memory cgroup comes with its last container's watch, if it had one: this one's now (no registration to make).
    const kept = cg ? this.cgroups!.takeOomWatch(cg) : null;
    if (kept) {
      const w: Watched = { watch: kept, reported: this.cgroups!.oomBaseline(cg!) };
      kept.reuse((count) => this.reportOom(r, w, count), w.reported);
      this.watched.get(r.id)?.watch?.stop();
      this.watched.set(r.id, w);
      return;
    }
    if (!this.oom || !cg || dir === null || !this.cgroups!.memoryLimited(cg.path, this.effective(r.spec.resources))) return;
    const w: Watched = { watch: null, reported: 0 };
    try {
      w.watch = this.oom.watch(dir, (count) => this.reportOom(r, w, count));
      w.reported = w.watch.baseline;
    } catch (err) {
      log('warn', 'no live OOM events for this container', { name: r.name, cgroup: cg.path, error: (err as Error).message });
    }
    this.watched.get(r.id)?.watch?.stop();
    this.watched.set(r.id, w);
  }

  /** Each kill the counter shows beyond those reported: an oom event (and OOMKilled from then on). */
  private reportOom(r: ContainerRecord, w: Watched, count: number): void {
    for (; w.reported < count; w.reported++) {
      r.oomKilled = true;
      this.o.onOom?.(r);
    }
  }

  /** The running container's cgroup.procs files (null: no cgroup): what an exec joins. */
  procsOf(r: ContainerRecord): string[] | null {
    const cg = this.of(r);
    return cg ? this.cgroups!.procsFiles(cg) : null;
  }

  /**
   * A container found after a restart with its PID 1 gone: its levels count as this skiffd's (to
   * be removed at close, as an adopted running container's are; else nothing would remove its
   * emptied parent), then its cgroup is emptied and removed.
   */
  async finishLost(r: ContainerRecord): Promise<void> {
    const cg = this.of(r);
    if (cg !== null && cg.dirs.length > 0) this.cgroups!.adopt(cg.path);
    await this.finish(r);
  }

  /** Empties and removes the cgroup of the run that ended; reports the OOM kills not reported live (before the caller's `die`). */
  async finish(r: ContainerRecord): Promise<void> {
    const cg = this.of(r);
    if (!cg) return;
    // The watch's last reading of the counter is the exit's: PID 1 is gone, and a kill comes
    // before an exit. Then it goes idle, and with the memory cgroup if that is kept as a spare
    // (the next container to take it watches through it); else finish() stops it.
    const w = this.watched.get(r.id) ?? { watch: null, reported: this.cgroups!.oomBaseline(cg) };
    this.watched.delete(r.id);
    const counted = w.watch?.count() ?? null;
    w.watch?.idle();
    const { oomKills, leftover } = await this.cgroups!.finish(cg, counted, w.watch);
    this.reportOom(r, w, oomKills);
    r.cgroup = null;
    if (leftover) log('warn', 'container cgroup did not empty; left in place', { name: r.name, cgroup: cg.path });
  }

  /**
   * SIGKILL to everything in the container's cgroup (what joined it from outside too), whole:
   * nothing escapes by forking meanwhile (src/main/cgroups/kill.ts). Runs on in the background:
   * the exit is seen, and the cgroup emptied, by finish().
   */
  killAll(r: ContainerRecord): void {
    const cg = this.of(r);
    if (cg) void this.cgroups!.killAll(cg).catch((err: Error) => log('warn', 'container cgroup kill failed', { name: r.name, cgroup: cg.path, error: err.message }));
  }

  /** New limits, written at once to a running container's cgroup (the caller keeps them for its next run). */
  update(r: ContainerRecord, res: ResourcesSpec): void {
    this.check(res);
    const cg = this.of(r);
    if (!cg) return;
    try {
      this.cgroups!.update(cg, this.effective(res));
    } catch (err) {
      if (err instanceof LimitError) throw new InvalidArgument(err.message, `resources.${err.field}`);
      throw err;
    }
  }

  /** At skiffd's close: the OOM watches end (the containers run on; a restarted skiffd watches them again). */
  close(): void {
    for (const w of this.watched.values()) w.watch?.stop();
    this.watched.clear();
    this.oom?.close();
  }

  /** The cgroup's counters of a running container (null when it has none). */
  sample(r: ContainerRecord): CgroupSample | null {
    const cg = this.of(r);
    return cg ? this.cgroups!.sample(cg) : null;
  }

  private of(r: ContainerRecord): ReturnType<Cgroups['at']> | null {
    return this.cgroups && r.cgroup ? this.cgroups.at(r.cgroup) : null;
  }

  /** skiffd --default-pids-limit for a container that sets none. */
  private effective(res: ResourcesSpec): ResourcesSpec {
    return res.pidsLimit === null && this.defaultPidsLimit !== null ? { ...res, pidsLimit: this.defaultPidsLimit } : res;
  }
}
