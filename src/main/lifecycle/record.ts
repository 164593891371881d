// What skiffd knows about one container, as kept in memory and in state.json.
import { randomFillSync } from 'node:crypto';
import { validateSpec, type ContainerSpec } from '../../spec/container.js';
import { liveStartTime } from '../../sys/proc.js';
import type { StartFailure } from '../../workers/start.js';
import type { Status } from './states.js';
import type { HealthState } from '../health/status.js';

export interface ContainerRecord {
  id: string;
  name: string;
  spec: ContainerSpec;
  status: Status;
  /** PID 1 in skiffd's pid namespace while running */
  pid: number | null;
  /** /proc/<pid>/stat start time of PID 1: tells our process from a recycled pid after a daemon restart */
  pidStartTime: number | null;
  exitCode: number | null;
  signal: number | null;
  /** why the last start failed, or why the exit status is unknown */
  error: string | null;
  failure: StartFailure | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  restartCount: number;
  /** set by stop/kill/rm: the restart policy must not bring it back */
  stoppedByUser: boolean;
  /** `docker run --rm` / `skiff run --rm`: remove once it has exited */
  autoRemove: boolean;
  /** the fleet that owns it, if any */
  fleet: string | null;
  /** its cgroup while it has one, relative to each hierarchy's root (src/main/cgroups) */
  cgroup?: string | null;
  /** the kernel's OOM killer killed a process of its last run */
  oomKilled?: boolean;
  /** its health check's state (src/main/health): kept so that a restarted skiffd goes on probing from it */
  health?: HealthState | null;
}

/**
 * 64 ids' worth of random bytes, drawn from the kernel at once: a randomBytes(32) per create was
 * a system call and a buffer each (1 % of skiffd's main thread in a `--cpu-prof` of 650
 * containers). Each id still takes 32 bytes no other id saw; the pool is refilled when used up.
 */
const ID_BYTES = 32;
const idPool = Buffer.alloc(ID_BYTES * 64);
let idNext = idPool.length;

/** A container id: 32 random bytes in hex, as Docker's. */
export function newId(): string {
  if (idNext === idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  const id = idPool.toString('hex', idNext, idNext + ID_BYTES);
  idNext += ID_BYTES;
  return id;
}

export function newRecord(spec: ContainerSpec, opts: { autoRemove?: boolean; fleet?: string | null } = {}): ContainerRecord {
  return {
    id: newId(),
    name: spec.name,
    spec,
    status: 'created',
    pid: null,
    pidStartTime: null,
    exitCode: null,
    signal: null,
    error: null,
    failure: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    restartCount: 0,
    stoppedByUser: false,
    autoRemove: opts.autoRemove ?? false,
    fleet: opts.fleet ?? null,
    cgroup: null,
    oomKilled: false,
  };
}

/** A record written by an older skiffd lacks the spec fields added since: they get their defaults. */
export function withCurrentDefaults(r: ContainerRecord): ContainerRecord {
  r.spec = { ...validateSpec({ name: r.spec.name, command: r.spec.command }), ...r.spec };
  return r;
}

/** Whether the record's PID 1 still runs: the same pid with the same start time (not a recycled pid). */
export function stillRunning(r: ContainerRecord): boolean {
  return r.pid !== null && r.pidStartTime !== null && liveStartTime(r.pid) === r.pidStartTime;
}
