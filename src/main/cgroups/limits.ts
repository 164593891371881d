// A container's limits as cgroup files: which controller, which file, which value, for v1
// and for v2. The writer takes a function from controller to directory, so it does not care
// where the cgroup root is (the tests point it at a fake tree in a temp directory).
import { writeFileSync } from 'node:fs';
import { DEFAULT_CPU_PERIOD, RESOURCE_FIELDS, type ResourcesSpec } from '../../spec/resources.js';

export type Controller = 'memory' | 'cpu' | 'pids' | 'cpuset';

export interface LimitWrite {
  controller: Controller;
  file: string;
  value: string;
  /** the spec field it comes from, for error messages */
  field: keyof ResourcesSpec;
  /** a file this kernel may lack (v1 memsw without swap accounting): skipped if absent */
  optional?: boolean;
}

/** The controller each limit needs. */
export const CONTROLLER_OF: Readonly<Record<keyof ResourcesSpec, Controller>> = {
  memory: 'memory', memorySwap: 'memory', memoryReservation: 'memory',
  cpuQuota: 'cpu', cpuPeriod: 'cpu', cpuShares: 'cpu', pidsLimit: 'pids', cpusetCpus: 'cpuset', cpusetMems: 'cpuset',
};

/** The limits `r` sets that need a controller the host lacks, first one first. */
export function missingController(r: ResourcesSpec, available: ReadonlySet<string>): { field: keyof ResourcesSpec; controller: Controller } | null {
  for (const field of RESOURCE_FIELDS) {
    if (r[field] !== null && !available.has(CONTROLLER_OF[field])) return { field, controller: CONTROLLER_OF[field] };
  }
  return null;
}

/** runc's and crun's conversion of cgroup v1 cpu.shares (2…262144) to v2 cpu.weight (1…10000). */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** memory + swap, as Docker reads it: unset means twice the memory, -1 means no swap limit. */
function memoryAndSwap(r: ResourcesSpec): number | null {
  if (r.memory === null) return null;
  if (r.memorySwap === null) return 2 * r.memory;
  return r.memorySwap;
}

/** The files to write, in order, for the limits `r` sets. A null field writes nothing. */
export function limitWrites(version: 1 | 2, r: ResourcesSpec): LimitWrite[] {
  const w: LimitWrite[] = [];
  const swap = memoryAndSwap(r);
  if (version === 1) {
    if (r.memory !== null) w.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(r.memory), field: 'memory' });
    if (swap !== null) w.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(swap), field: 'memorySwap', optional: r.memorySwap === null });
    if (r.memoryReservation !== null) w.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(r.memoryReservation), field: 'memoryReservation' });
    if (r.cpuQuota !== null) {
      w.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(r.cpuPeriod ?? DEFAULT_CPU_PERIOD), field: 'cpuPeriod' });
      w.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(r.cpuQuota), field: 'cpuQuota' });
    }
    if (r.cpuShares !== null) w.push({ controller: 'cpu', file: 'cpu.shares', value: String(r.cpuShares), field: 'cpuShares' });
  } else {
    if (r.memory !== null) w.push({ controller: 'memory', file: 'memory.max', value: String(r.memory), field: 'memory' });
    if (swap !== null) w.push({ controller: 'memory', file: 'memory.swap.max', value: swap === -1 ? 'max' : String(swap - r.memory!), field: 'memorySwap', optional: r.memorySwap === null });
    if (r.memoryReservation !== null) w.push({ controller: 'memory', file: 'memory.low', value: String(r.memoryReservation), field: 'memoryReservation' });
    if (r.cpuQuota !== null) w.push({ controller: 'cpu', file: 'cpu.max', value: `${r.cpuQuota} ${r.cpuPeriod ?? DEFAULT_CPU_PERIOD}`, field: 'cpuQuota' });
    if (r.cpuShares !== null) w.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(r.cpuShares)), field: 'cpuShares' });
  }
  if (r.pidsLimit !== null) w.push({ controller: 'pids', file: 'pids.max', value: String(r.pidsLimit), field: 'pidsLimit' });
  if (r.cpusetCpus !== null) w.push({ controller: 'cpuset', file: 'cpuset.cpus', value: r.cpusetCpus, field: 'cpusetCpus' });
  if (r.cpusetMems !== null) w.push({ controller: 'cpuset', file: 'cpuset.mems', value: r.cpusetMems, field: 'cpusetMems' });
  return w;
}

/**
 * The writes that take back the limits `r` sets, leaving the cgroup unlimited in each (a fleet
 * level whose x-skiff.resources went away). Swap before memory on v1: memory may not exceed
 * memory+swap. cpuset is left as it is (a level needs some CPUs; its parent's are the default).
 */
export function unlimitWrites(version: 1 | 2, r: ResourcesSpec): LimitWrite[] {
  const w: LimitWrite[] = [];
  const put = (controller: Controller, file: string, value: string, field: keyof ResourcesSpec, optional = false) => w.push({ controller, file, value, field, ...(optional ? { optional } : {}) });
  if (version === 1) {
    if (r.memory !== null || r.memorySwap !== null) put('memory', 'memory.memsw.limit_in_bytes', '-1', 'memorySwap', true);
    if (r.memory !== null) put('memory', 'memory.limit_in_bytes', '-1', 'memory');
    if (r.memoryReservation !== null) put('memory', 'memory.soft_limit_in_bytes', '-1', 'memoryReservation');
    if (r.cpuQuota !== null) put('cpu', 'cpu.cfs_quota_us', '-1', 'cpuQuota');
    if (r.cpuShares !== null) put('cpu', 'cpu.shares', '1024', 'cpuShares');
  } else {
    if (r.memory !== null) put('memory', 'memory.max', 'max', 'memory');
    if (r.memory !== null || r.memorySwap !== null) put('memory', 'memory.swap.max', 'max', 'memorySwap', true);
    if (r.memoryReservation !== null) put('memory', 'memory.low', '0', 'memoryReservation');
    if (r.cpuQuota !== null) put('cpu', 'cpu.max', `max ${DEFAULT_CPU_PERIOD}`, 'cpuQuota');
    if (r.cpuShares !== null) put('cpu', 'cpu.weight', '100', 'cpuShares');
  }
  if (r.pidsLimit !== null) put('pids', 'pids.max', 'max', 'pidsLimit');
  return w;
}

export class LimitError extends Error {
  constructor(readonly field: keyof ResourcesSpec, message: string, readonly code: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/**
 * Writes the limits into the directories `dirOf` names. A v1 memory limit above the current
 * memory+swap limit is refused by the kernel (EINVAL) until memsw is raised first: the pair
 * is then written the other way round, as runc does.
 */
export function writeLimits(dirOf: (c: Controller) => string, writes: readonly LimitWrite[]): void {
  const put = (w: LimitWrite): void => {
    const path = `${dirOf(w.controller)}/${w.file}`;
    try {
      writeFileSync(path, w.value);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (w.optional && e.code === 'ENOENT') return;
      throw new LimitError(w.field, `resources.${w.field}: write ${w.value} to \`${path}\`: ${e.code ?? e.message}`, e.code ?? 'EIO');
    }
  };
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i]!;
    const next = writes[i + 1];
    if (w.file === 'memory.limit_in_bytes' && next?.file === 'memory.memsw.limit_in_bytes') {
      try {
        put(w);
      } catch (err) {
        if (!(err instanceof LimitError) || err.code !== 'EINVAL') throw err;
        put(next);
        put(w);
        i++;
      }
      continue;
    }
    put(w);
  }
}
