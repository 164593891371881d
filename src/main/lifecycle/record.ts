// What skiffd knows about one container, as kept in memory and in state.json.
import { randomBytes } from 'node:crypto';
import type { ContainerSpec } from '../../spec/container.js';
import type { StartFailure } from '../../workers/start.js';
import type { Status } from './states.js';

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
}

export function newRecord(spec: ContainerSpec, opts: { autoRemove?: boolean; fleet?: string | null } = {}): ContainerRecord {
  return {
    id: randomBytes(32).toString('hex'),
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
