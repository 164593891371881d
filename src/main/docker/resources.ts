// Docker's resource fields (HostConfig on create, the body of POST /containers/{id}/update)
// to the spec's `resources`. Pure. As in Docker, 0 is "not set", and so is -1 for swap and
// pids where Docker means "unlimited"; NanoCpus becomes a CFS quota over a 100 ms period.
import { cpusToQuota, ResourceError, validateResources, type ResourcesSpec } from '../../spec/resources.js';
import { CreateError, shown } from './fields.js';

type Obj = Record<string, unknown>;

/** The spec's resource fields and the Docker fields they come from (longest spec name first, for prefix matching). */
export const RESOURCE_DOCKER_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['resources.memoryReservation', 'MemoryReservation'], ['resources.memorySwap', 'MemorySwap'], ['resources.memory', 'Memory'],
  ['resources.cpuQuota', 'CpuQuota'], ['resources.cpuPeriod', 'CpuPeriod'], ['resources.cpuShares', 'CpuShares'],
  ['resources.pidsLimit', 'PidsLimit'], ['resources.cpusetCpus', 'CpusetCpus'], ['resources.cpusetMems', 'CpusetMems'],
];


function num(o: Obj, k: string, prefix: string): number | null {
  const v = o[k];
  if (v === undefined || v === null || v === 0) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new CreateError(`${prefix}${k}`, `${prefix}${k} must be a whole number, got ${shown(v)}`);
  return v;
}

function text(o: Obj, k: string, prefix: string): string | null {
  const v = o[k];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new CreateError(`${prefix}${k}`, `${prefix}${k} must be a string, got ${shown(v)}`);
  return v;
}

/**
 * The resource fields `o` sets, in the spec's names; unset ones are absent. `prefix` is how
 * errors name the fields (`HostConfig.` on create, nothing on update).
 */
export function dockerResources(o: Obj, prefix: string): Partial<Record<keyof ResourcesSpec, unknown>> {
  const out: Partial<Record<keyof ResourcesSpec, unknown>> = {};
  const set = (k: keyof ResourcesSpec, v: unknown): void => {
    if (v !== null) out[k] = v;
  };
  set('memory', num(o, 'Memory', prefix));
  const swap = num(o, 'MemorySwap', prefix);
  set('memorySwap', swap !== null && swap < 0 ? -1 : swap);
  set('memoryReservation', num(o, 'MemoryReservation', prefix));
  const nano = num(o, 'NanoCpus', prefix);
  const quota = num(o, 'CpuQuota', prefix);
  const period = num(o, 'CpuPeriod', prefix);
  if (nano !== null) {
    if (quota !== null || period !== null) throw new CreateError(`${prefix}NanoCpus`, `${prefix}NanoCpus cannot be combined with ${prefix}CpuQuota or ${prefix}CpuPeriod: give one`);
    try {
      const q = cpusToQuota(nano / 1e9, `${prefix}NanoCpus`);
      set('cpuQuota', q.cpuQuota);
      set('cpuPeriod', q.cpuPeriod);
    } catch (err) {
      if (err instanceof ResourceError) throw new CreateError(err.field, `${prefix}NanoCpus must be a positive number of billionths of a CPU, at least 10000000 (0.01 CPUs), got ${shown(nano)}`);
      throw err;
    }
  } else {
    // -1: no quota (Docker's "unlimited")
    set('cpuQuota', quota !== null && quota < 0 ? null : quota);
    set('cpuPeriod', period);
  }
  set('cpuShares', num(o, 'CpuShares', prefix));
  const pids = num(o, 'PidsLimit', prefix);
  set('pidsLimit', pids !== null && pids < 0 ? null : pids);
  set('cpusetCpus', text(o, 'CpusetCpus', prefix));
  set('cpusetMems', text(o, 'CpusetMems', prefix));
  return out;
}

/** Renames a spec error of `resources.x` to the Docker field it came from. */
export function dockerResourceError(err: ResourceError | { field: string; message: string }, prefix: string): CreateError {
  const hit = RESOURCE_DOCKER_FIELDS.find(([spec]) => err.field === spec);
  if (!hit) return new CreateError(err.field, err.message);
  const field = `${prefix}${hit[1]}`;
  return new CreateError(field, field + err.message.slice(err.field.length));
}

/** POST /containers/{id}/update: the current limits with what the body sets (0 leaves a limit as it is). */
export function updatedResources(current: ResourcesSpec, body: Obj): ResourcesSpec {
  const changes = dockerResources(body, '');
  try {
    return validateResources({ ...current, ...changes }, 'resources');
  } catch (err) {
    if (err instanceof ResourceError) throw dockerResourceError(err, '');
    throw err;
  }
}
