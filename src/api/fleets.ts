// The JSON that skiffd's fleet paths answer (GET /fleets, GET /fleets/{name}, POST /fleets),
// shared by skiffd, which builds it, and the CLI and benchmarks, which read it. Types only.

/**
 * created: exists, never asked to start · queued: waiting for a launcher · starting: a launcher
 * is on it · running: PID 1 exec'd · exited: PID 1 ended (exitCode set) · failed: the start
 * failed (error set) · restarting: waiting out a restart back-off · removed: gone (only a
 * client that waited for the removal sees it). src/main/lifecycle/states.ts draws the moves.
 */
export type ContainerStatus = 'created' | 'queued' | 'starting' | 'running' | 'restarting' | 'exited' | 'failed' | 'removed';

export interface PlanCounts {
  create: number;
  replace: number;
  start: number;
  keep: number;
  remove: number;
}

export type OperationKind = 'up' | 'down';

export interface OperationView {
  id: number;
  kind: OperationKind;
  /** running; done; aborted: a newer `up` or a `down` took over before it finished */
  state: 'running' | 'done' | 'aborted';
  startedAt: string;
  finishedAt: string | null;
  plan: PlanCounts;
  /** why each of these containers is not running: create, start or a dependency failed */
  errors: { name: string; error: string }[];
}

export interface FleetCounts {
  /** replicas declared by the running or last `up`; else the containers there are */
  desired: number;
  /** created and waiting (for a dependency, or for the operation to reach them) */
  created: number;
  queued: number;
  starting: number;
  running: number;
  restarting: number;
  /** exited containers by exit code (128+N: killed by signal N; -1: unknown) */
  exited: Record<string, number>;
  /** the start failed, or it was not started because a dependency failed */
  failed: number;
  /** being stopped and removed by the running operation (no longer declared, or `down`) */
  removing: number;
  /** of the running containers with a health check: probing, none passed yet (in a start period, or no probe yet) */
  healthStarting: number;
  /** … whose last probe passed */
  healthy: number;
  /** … that failed `retries` probes in a row */
  unhealthy: number;
}

export interface FleetContainerView {
  name: string;
  service: string;
  replica: number;
  status: ContainerStatus;
  pid: number | null;
  exitCode: number | null;
  signal: number | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** from start to exit, or to now while running; null if it never started */
  durationMs: number | null;
  restartCount: number;
  /** its health check's status; null without a health check */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
}

export interface FleetServiceView extends FleetCounts {
  name: string;
  /** present unless asked for without them (?containers=0) */
  containers?: FleetContainerView[];
}

export interface FleetView {
  name: string;
  totals: FleetCounts;
  services: FleetServiceView[];
  operation: OperationView | null;
}

export interface FleetListEntry {
  name: string;
  services: number;
  containers: number;
  running: number;
  exited: number;
  failed: number;
  operation: OperationView['state'] | null;
}
