// A service's resource limits as Compose writes them: the service keys mem_limit,
// memswap_limit, mem_reservation, cpus, cpu_shares, cpu_quota, cpu_period, pids_limit, cpuset,
// and deploy.resources.limits (cpus, memory, pids) / reservations (memory). Sizes are Docker's
// (`64m`, `1g`, or bytes); each value is placed in the spec's `resources`, and validateSpec's
// errors about it point back at the YAML value it came from (origins).
import { cpusToQuota, parseBytes, ResourceError, validateResources, type ResourcesSpec } from '../spec/resources.js';
import type { KeyTable, YMap, YVal } from './yaml-view.js';

export const RESOURCES_KEYS: KeyTable = {
  supported: ['limits', 'reservations'],
};
export const LIMITS_KEYS: KeyTable = {
  supported: ['cpus', 'memory', 'pids'],
  unsupported: { devices: '' },
};
export const RESERVATIONS_KEYS: KeyTable = {
  supported: ['memory'],
  unsupported: { cpus: 'skiff reserves no CPU time (use cpu_shares for a relative weight)', devices: '', generic_resources: '' },
};

function size(v: YVal, unlimited: boolean): number {
  const s = v.scalar;
  if (unlimited && (s === -1 || s === '-1')) return -1;
  const n = typeof s === 'number' ? (Number.isSafeInteger(s) && s >= 0 ? s : null) : typeof s === 'string' ? parseBytes(s) : null;
  return n ?? v.fail(`expected a size such as 64m, 512k, 1g or a number of bytes, got ${v.describe()}`);
}

function cpus(v: YVal): { cpuQuota: number; cpuPeriod: number } {
  const s = v.scalar;
  const n = typeof s === 'number' ? s : typeof s === 'string' && /^\d*\.?\d+$/.test(s) ? Number(s) : NaN;
  try {
    return cpusToQuota(n, 'cpus');
  } catch (err) {
    if (err instanceof ResourceError) return v.fail(`expected a number of CPUs of at least 0.01, such as 0.5 or 2, got ${v.describe()}`);
    throw err;
  }
}

/**
 * The resources a service sets (null if none). A limit given twice (mem_limit and
 * deploy.resources.limits.memory) must agree.
 */
export function readResources(m: YMap, deploy: YMap | undefined, origins: Map<string, YVal>): Partial<Record<keyof ResourcesSpec, unknown>> | null {
  const out: Partial<Record<keyof ResourcesSpec, unknown>> = {};
  const put = (field: keyof ResourcesSpec, v: YVal, value: unknown): void => {
    const before = origins.get(`resources.${field}`);
    if (before && out[field] !== value) v.fail(`sets ${field} to ${String(value)} but ${before.path} already set it to ${String(out[field])}; give one`);
    out[field] = value;
    origins.set(`resources.${field}`, v);
  };
  const setCpus = (v: YVal): void => {
    const q = cpus(v);
    put('cpuQuota', v, q.cpuQuota);
    put('cpuPeriod', v, q.cpuPeriod);
  };
  const int = (v: YVal, unlimited = false): number | null => {
    if (unlimited && v.scalar === -1) return null;
    return v.integer('a whole number');
  };
  for (const [key, read] of [
    ['mem_limit', (v: YVal) => put('memory', v, size(v, false))],
    ['memswap_limit', (v: YVal) => put('memorySwap', v, size(v, true))],
    ['mem_reservation', (v: YVal) => put('memoryReservation', v, size(v, false))],
    ['cpus', setCpus],
    ['cpu_shares', (v: YVal) => put('cpuShares', v, int(v))],
    ['cpu_quota', (v: YVal) => put('cpuQuota', v, int(v))],
    ['cpu_period', (v: YVal) => put('cpuPeriod', v, int(v))],
    ['pids_limit', (v: YVal) => { const n = int(v, true); if (n !== null) put('pidsLimit', v, n); }],
    ['cpuset', (v: YVal) => put('cpusetCpus', v, v.string('a list of CPUs such as 0-1'))],
  ] as const) {
    const v = m.get(key);
    if (v && !v.isNull) read(v);
  }
  const resources = deploy?.get('resources');
  if (resources && !resources.isNull) {
    const r = resources.map().check(RESOURCES_KEYS);
    const limits = r.get('limits');
    if (limits && !limits.isNull) {
      const l = limits.map().check(LIMITS_KEYS);
      const c = l.get('cpus');
      if (c) setCpus(c);
      const mem = l.get('memory');
      if (mem) put('memory', mem, size(mem, false));
      const pids = l.get('pids');
      if (pids) {
        const n = int(pids, true);
        if (n !== null) put('pidsLimit', pids, n);
      }
    }
    const reservations = r.get('reservations');
    if (reservations && !reservations.isNull) {
      const mem = reservations.map().check(RESERVATIONS_KEYS).get('memory');
      if (mem) put('memoryReservation', mem, size(mem, false));
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

export const FLEET_RESOURCES_KEYS: KeyTable = {
  supported: ['memory', 'memswap', 'cpus', 'cpu_shares', 'pids', 'cpuset'],
};

/**
 * `x-skiff.resources` at the top of a fleet file: limits on the fleet as a whole, written to its
 * own cgroup level (<parent>/<fleet>/), which every replica's cgroup is under. Compose has no
 * such key; the names are deploy.resources.limits' and the service keys' (memory, cpus, pids,
 * memswap, cpu_shares, cpuset). Checked here, each error at its value.
 */
export function readFleetResources(v: YVal): ResourcesSpec {
  const m = v.map().check(FLEET_RESOURCES_KEYS);
  const raw: Partial<Record<keyof ResourcesSpec, unknown>> = {};
  const at = new Map<string, YVal>();
  const put = (field: keyof ResourcesSpec, from: YVal, value: unknown): void => {
    raw[field] = value;
    at.set(field, from);
  };
  for (const [key, read] of [
    ['memory', (x: YVal) => put('memory', x, size(x, false))],
    ['memswap', (x: YVal) => put('memorySwap', x, size(x, true))],
    ['cpus', (x: YVal) => { const q = cpus(x); put('cpuQuota', x, q.cpuQuota); put('cpuPeriod', x, q.cpuPeriod); }],
    ['cpu_shares', (x: YVal) => put('cpuShares', x, x.integer('a whole number'))],
    ['pids', (x: YVal) => put('pidsLimit', x, x.integer('a whole number'))],
    ['cpuset', (x: YVal) => put('cpusetCpus', x, x.string('a list of CPUs such as 0-1'))],
  ] as const) {
    const x = m.get(key);
    if (x && !x.isNull) read(x);
  }
  try {
    return validateResources(raw, 'resources');
  } catch (err) {
    if (!(err instanceof ResourceError)) throw err;
    const field = err.field.replace(/^resources\./, '');
    return (at.get(field) ?? v).fail(err.message.slice(err.field.length + 1));
  }
}
