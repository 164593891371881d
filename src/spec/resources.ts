// A container's resource limits: their type, validation and the units people write them in.
// Pure: no I/O. Which cgroup files carry them is src/main/cgroups/limits.ts's business.
//
// The values follow Docker's: bytes for memory, CFS microseconds for CPU, a relative weight
// for shares; null is "not set" (unlimited). `--cpus 0.5` is stored as quota 50000 over
// period 100000, as Docker turns NanoCpus into a quota.
export interface ResourcesSpec {
  /** hard memory limit in bytes (memory.limit_in_bytes / memory.max) */
  memory: number | null;
  /** memory plus swap in bytes, -1 for unlimited swap; null: twice `memory` (Docker's default) */
  memorySwap: number | null;
  /** soft limit in bytes (memory.soft_limit_in_bytes / memory.low) */
  memoryReservation: number | null;
  /** CFS quota in microseconds per period */
  cpuQuota: number | null;
  /** CFS period in microseconds (default 100000 when a quota is set) */
  cpuPeriod: number | null;
  /** relative CPU weight, 2 to 262144 (Docker's default is 1024) */
  cpuShares: number | null;
  /** most tasks (processes and threads) at once */
  pidsLimit: number | null;
  /** CPUs the container may run on, e.g. `0-1` or `0,2` */
  cpusetCpus: string | null;
  /** memory nodes, e.g. `0` */
  cpusetMems: string | null;
}

export const NO_RESOURCES: Readonly<ResourcesSpec> = Object.freeze({
  memory: null, memorySwap: null, memoryReservation: null, cpuQuota: null, cpuPeriod: null, cpuShares: null,
  pidsLimit: null, cpusetCpus: null, cpusetMems: null,
});

export const RESOURCE_FIELDS = Object.keys(NO_RESOURCES) as readonly (keyof ResourcesSpec)[];

/** Docker refuses less: below it a container cannot even start its init. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** The kernel's bounds on a CFS period and quota, in microseconds. */
export const MIN_CPU_PERIOD = 1000;
export const MAX_CPU_PERIOD = 1_000_000;
export const MIN_CPU_QUOTA = 1000;
export const DEFAULT_CPU_PERIOD = 100_000;
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262_144;

export class ResourceError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'ResourceError';
  }
}

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' || typeof v === 'boolean' || v === null ? String(v) : typeof v;
}

function integer(v: unknown, field: string, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ResourceError(field, `must be ${what}, got ${shown(v)}`);
  }
  return v;
}

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

function cpuList(v: unknown, field: string): string {
  if (typeof v !== 'string' || !CPU_LIST.test(v)) throw new ResourceError(field, `must be a list like 0-2 or 0,3, got ${shown(v)}`);
  return v;
}

/** Validates `resources` as received (JSON); every unset field is null. */
export function validateResources(v: unknown, field = 'resources'): ResourcesSpec {
  if (v === undefined || v === null) return { ...NO_RESOURCES };
  if (typeof v !== 'object' || Array.isArray(v)) throw new ResourceError(field, `must be an object, got ${shown(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(RESOURCE_FIELDS as readonly string[]).includes(k)) throw new ResourceError(`${field}.${k}`, `is not a known field (known: ${RESOURCE_FIELDS.join(', ')})`);
  }
  const get = <T>(k: keyof ResourcesSpec, check: (x: unknown, f: string) => T): T | null => (o[k] === undefined || o[k] === null ? null : check(o[k], `${field}.${k}`));
  const bytes = (min: number) => (x: unknown, f: string) => integer(x, f, min, Number.MAX_SAFE_INTEGER, `a number of bytes of at least ${min} (${formatBytes(min)})`);
  const r: ResourcesSpec = {
    memory: get('memory', bytes(MIN_MEMORY)),
    memorySwap: get('memorySwap', (x, f) => (x === -1 ? -1 : bytes(MIN_MEMORY)(x, f))),
    memoryReservation: get('memoryReservation', bytes(MIN_MEMORY)),
    cpuQuota: get('cpuQuota', (x, f) => integer(x, f, MIN_CPU_QUOTA, Number.MAX_SAFE_INTEGER, `a number of microseconds of at least ${MIN_CPU_QUOTA}`)),
    cpuPeriod: get('cpuPeriod', (x, f) => integer(x, f, MIN_CPU_PERIOD, MAX_CPU_PERIOD, `a number of microseconds from ${MIN_CPU_PERIOD} to ${MAX_CPU_PERIOD}`)),
    cpuShares: get('cpuShares', (x, f) => integer(x, f, MIN_CPU_SHARES, MAX_CPU_SHARES, `a weight from ${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}`)),
    pidsLimit: get('pidsLimit', (x, f) => integer(x, f, 1, 4_194_304, 'a number of processes from 1 to 4194304')),
    cpusetCpus: get('cpusetCpus', cpuList),
    cpusetMems: get('cpusetMems', cpuList),
  };
  if (r.memorySwap !== null && r.memorySwap !== -1) {
    if (r.memory === null) throw new ResourceError(`${field}.memorySwap`, 'needs memory to be set too');
    if (r.memorySwap < r.memory) throw new ResourceError(`${field}.memorySwap`, `must be at least memory (${r.memory}), got ${r.memorySwap}`);
  }
  if (r.memoryReservation !== null && r.memory !== null && r.memoryReservation > r.memory) {
    throw new ResourceError(`${field}.memoryReservation`, `must not exceed memory (${r.memory}), got ${r.memoryReservation}`);
  }
  if (r.cpuPeriod !== null && r.cpuQuota === null) throw new ResourceError(`${field}.cpuPeriod`, 'needs cpuQuota to be set too');
  return r;
}

export function hasLimits(r: ResourcesSpec): boolean {
  return RESOURCE_FIELDS.some((k) => r[k] !== null);
}

/** `--cpus 0.5` → { quota, period }: Docker's conversion of NanoCpus. Throws on anything but a positive number. */
export function cpusToQuota(cpus: number, field: string): { cpuQuota: number; cpuPeriod: number } {
  if (!Number.isFinite(cpus) || cpus <= 0) throw new ResourceError(field, `must be a positive number of CPUs, got ${shown(cpus)}`);
  const cpuQuota = Math.round(cpus * DEFAULT_CPU_PERIOD);
  if (cpuQuota < MIN_CPU_QUOTA) throw new ResourceError(field, `must be at least 0.01 CPUs, got ${shown(cpus)}`);
  return { cpuQuota, cpuPeriod: DEFAULT_CPU_PERIOD };
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([bkmgt])?(?:i?b)?$/i;
const POWER: Readonly<Record<string, number>> = { b: 0, k: 1, m: 2, g: 3, t: 4 };

/** `64m`, `1g`, `512k`, `1048576` → bytes (binary units, as Docker's --memory); null if not a size. */
export function parseBytes(s: string): number | null {
  const m = SIZE.exec(s.trim());
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * 1024 ** (POWER[(m[2] ?? 'b').toLowerCase()] ?? 0));
  return Number.isSafeInteger(bytes) ? bytes : null;
}

export function formatBytes(n: number): string {
  for (const [unit, p] of [['g', 3], ['m', 2], ['k', 1]] as const) if (n % 1024 ** p === 0) return `${n / 1024 ** p}${unit}`;
  return `${n}`;
}
