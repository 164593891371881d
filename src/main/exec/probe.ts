// The probe interface: one command run in a running container by skiffd itself (health checks),
// with its output and exit code, killed if it outlives its time. ExecManager.runProbe is one
// (probe-runner.ts).

export interface ProbeResult {
  /** the command's exit code (128+N for signal N); -1 when it timed out and was killed */
  exitCode: number;
  /** stdout then stderr combined in arrival order, truncated to the first 4096 bytes */
  output: string;
  timedOut: boolean;
}

/**
 * Runs argv in the container (its namespaces, root, cgroup, capabilities, seccomp, user, env and
 * workdir, as an exec does). Rejects with the lifecycle's NotFound for an unknown container and
 * Conflict for one that is not running; a command that cannot be run resolves with 126 or 127.
 */
export type RunProbe = (containerId: string, argv: string[], timeoutMs: number) => Promise<ProbeResult>;

/** How much of a probe's output is kept. */
export const PROBE_OUTPUT_BYTES = 4096;
