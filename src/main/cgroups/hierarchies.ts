// The hierarchies skiffd uses on this host, chosen once from its layout (layout.ts): which ones
// a container may join, where each controller is, and how a cgroup is killed whole (kill.ts);
// and whether a container's limits can be given here at all (check), before anything is made.
import { existsSync, readFileSync } from 'node:fs';
import type { ResourcesSpec } from '../../spec/resources.js';
import type { CgroupLayout } from './layout.js';
import { missingController } from './limits.js';
import { kernelHasCgroupKill, type KillMethod } from './kill.js';

export class CgroupUnavailable extends Error {
  constructor(readonly field: keyof ResourcesSpec, readonly controller: string) {
    super(`resources.${field} needs the cgroup controller ${controller}, which this host does not have`);
    this.name = 'CgroupUnavailable';
  }
}

/** A limit this host cannot give, whatever its controllers: CPUs it does not have. */
export class LimitRefused extends Error {
  constructor(readonly field: keyof ResourcesSpec, message: string) {
    super(message);
    this.name = 'LimitRefused';
  }
}

/** The v1 controllers whose hierarchies a container may join: its limits, its stats, its OOM counter. */
const V1_USED = new Set(['memory', 'cpu', 'cpuacct', 'pids', 'cpuset']);
/**
 * The v1 controllers every container joins, limited or not: what `stats` reads (memory, CPU
 * time) and the OOM counter. The others (cpu, pids, cpuset) only where a limit of the container
 * or its fleet needs them: each joined hierarchy is a mkdir, a join (an RCU grace period for
 * cgroup_threadgroup_rwsem) and an rmdir per start, and a cpuset's rmdir rebuilds the
 * scheduler's domains. cpuacct not where the container is killed through the unified hierarchy
 * (hierarchiesOf): any cgroup2 directory counts its CPU time (cpu.stat's usage_usec, user_usec,
 * system_usec, without a controller), and that one is joined anyway.
 */
const V1_ALWAYS = ['memory', 'cpuacct'];

export interface Hierarchies {
  /** the hierarchy roots a container may join: v1 controller mounts plus the one it is killed through, or the v2 root */
  roots: string[];
  /** each controller's hierarchy root */
  byController: Map<string, string>;
  /** how a container's cgroup is killed whole (kill.ts) */
  killMethod: KillMethod;
  /** the root of the hierarchy killMethod works in (null: signals) */
  killRoot: string | null;
  /** the hierarchy roots every container joins, limited or not (V1_ALWAYS' and the kill hierarchy) */
  always: string[];
}

/**
 * The hierarchies of `layout` skiffd uses. `kill`: `auto` takes cgroup.kill where the kernel has
 * it (v2, or a hybrid host's unified hierarchy), else the freezer; `freezer` takes the freezer even so.
 */
export function hierarchiesOf(layout: CgroupLayout, kill: 'auto' | 'freezer' | undefined): Hierarchies {
  const byController = new Map<string, string>();
  const hasKill = kernelHasCgroupKill() && kill !== 'freezer';
  if (layout.version === 2) {
    for (const c of layout.controllers) byController.set(c, layout.root);
    // cgroup.freeze is in every v2 cgroup (Linux 5.2), whatever the controllers.
    return { roots: [layout.root], byController, killMethod: hasKill ? 'cgroup.kill' : 'freezer', killRoot: layout.root, always: [layout.root] };
  }
  // Only the hierarchies of the controllers skiff limits or reads, and one to kill the
  // container through: the unified one (cgroup.kill), else the freezer's. A directory in
  // the others (devices, blkio…) would limit nothing and cost a mkdir, a join and an rmdir
  // on every start.
  const used = layout.v1.filter((h) => h.controllers.some((c) => V1_USED.has(c)));
  for (const h of used) for (const c of h.controllers) byController.set(c, h.mount);
  const freezer = layout.v1.find((h) => h.controllers.includes('freezer'))?.mount ?? null;
  const [killMethod, killRoot]: [KillMethod, string | null] = layout.unified && hasKill ? ['cgroup.kill', layout.unified]
    : freezer ? ['freezer', freezer] : ['signals', null];
  const killVia = killRoot !== null && !used.some((h) => h.mount === killRoot) ? [killRoot] : [];
  const always = V1_ALWAYS.filter((c) => c !== 'cpuacct' || killRoot !== layout.unified).map((c) => byController.get(c)).filter((r) => r !== undefined);
  return { roots: [...used.map((h) => h.mount), ...killVia], byController, killMethod, killRoot, always: [...new Set([...always, ...(killRoot === null ? [] : [killRoot])])] };
}

/**
 * Throws CgroupUnavailable naming the first limit whose controller this host lacks, or
 * LimitRefused for CPUs or memory nodes the host does not have.
 */
export function checkLimits(r: ResourcesSpec, layout: CgroupLayout, byController: Map<string, string>): void {
  const missing = missingController(r, layout.controllers);
  if (missing) throw new CgroupUnavailable(missing.field, missing.controller);
  for (const [field, file] of [['cpusetCpus', 'cpus'], ['cpusetMems', 'mems']] as const) {
    const want = r[field];
    if (want === null) continue;
    const root = byController.get('cpuset')!;
    const have = readOr(`${root}/cpuset.${file}.effective`, readOr(`${root}/cpuset.${file}`, '')).trim();
    const all = expandList(have);
    const bad = [...expandList(want)].filter((n) => !all.has(n));
    if (bad.length > 0) throw new LimitRefused(field, `resources.${field} ${want} names ${file === 'cpus' ? 'CPUs' : 'memory nodes'} this host does not have (${bad.join(', ')}); it has ${have}`);
  }
  // An explicit swap limit needs swap accounting (v1 memsw, v2 memory.swap.max).
  if (r.memorySwap !== null && r.memorySwap !== -1) {
    const mem = byController.get('memory')!;
    const file = layout.version === 1 ? 'memory.memsw.limit_in_bytes' : null;
    if (file && !existsSync(`${mem}/${file}`)) throw new CgroupUnavailable('memorySwap', 'memory with swap accounting (memory.memsw.*)');
  }
}

/** `0-2,5` → {0, 1, 2, 5} (bounded: a range of more than 4096 is cut there). */
function expandList(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let n = a!; n <= (b ?? a!) && out.size < 4096; n++) out.add(n);
  }
  return out;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
