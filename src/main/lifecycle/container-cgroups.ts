// The supervisor's side of its containers' cgroups (src/main/cgroups does the cgroup files):
// one made before each run and joined by PID 1, killed with the container, emptied and
// removed after its exit (an OOM kill read from it then), limits checked at create and
// changed by `docker update`. A host without cgroups gets none of it, and no error.
import type { ResourcesSpec } from '../../spec/resources.js';
import { CgroupUnavailable, LimitRefused, type CgroupSample, type Cgroups } from '../cgroups/cgroups.js';
import { LimitError } from '../cgroups/limits.js';
import { StartError } from '../../workers/start.js';
import { log } from '../log.js';
import { InvalidArgument } from './errors.js';
import { namespaceInit } from './orphans.js';
import type { ContainerRecord } from './record.js';

export class ContainerCgroups {
  constructor(private readonly cgroups: Cgroups | null, private readonly defaultPidsLimit: number | null) {}

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
    const pids = cgroups.pids(cg);
    if (pids.length === 0) {
      cgroups.removeDirs(cg);
      return null;
    }
    const init = namespaceInit(pids);
    if (init !== null) {
      r.cgroup = cg.path;
      r.oomKilled = false;
      cgroups.adopt(cg.path);
      return init;
    }
    await cgroups.finish(cg);
    return null;
  }

  /** A running container found after a skiffd restart: its cgroup is known again. */
  adopt(r: ContainerRecord): void {
    if (r.cgroup) this.cgroups?.adopt(r.cgroup);
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
    return cgroups.procsFiles(cg);
  }

  /** The running container's cgroup.procs files (null: no cgroup): what an exec joins. */
  procsOf(r: ContainerRecord): string[] | null {
    const cg = this.of(r);
    return cg ? this.cgroups!.procsFiles(cg) : null;
  }

  /** Empties and removes the cgroup of the run that ended; records an OOM kill. */
  async finish(r: ContainerRecord): Promise<void> {
    const cg = this.of(r);
    if (!cg) return;
    const { oomKilled, leftover } = await this.cgroups!.finish(cg);
    r.oomKilled = oomKilled;
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
