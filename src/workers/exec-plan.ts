// An exec's launch plan: the same interpreter as a start, entering a running container instead of
// creating one. Pure: the fds and namespaces it names are found by src/workers/exec.ts.
import type { ContainerSpec, UserSpec } from '../spec/container.js';
import type { Op, Plan } from '../native/plan-format.js';
import { containerPtyOps, type ContainerPty } from './exec-pty.js';
import { consoleOpenOps, execCandidates, privilegeOps, stdioOps, type LaunchConsole } from './plan.js';

/** What runs: the command, its whole environment, its workdir (inside the root) and its ids. */
export interface ExecProcess {
  command: string[];
  env: string[];
  workdir: string;
  /** null: root */
  user: UserSpec | null;
}

export interface ExecPlanContext {
  /** a pidfd on the container's PID 1, open in the launcher; the launch's children inherit it */
  pidfd: number;
  /** the container's root directory (/proc/<pid>/root opened O_PATH), open in the launcher */
  rootFd: number;
  /** CLONE_NEW* flags of PID 1's namespaces that differ from the launcher's, pid and user excepted */
  namespaces: number;
  /** PID 1 has a pid namespace of its own (a skiff container always has) */
  pidNamespace: boolean;
  /** host paths opened before the setns, or a pty made in the container after the chroot (exec-pty.ts) */
  console: LaunchConsole | ContainerPty;
  /** the host kernel's highest capability number */
  lastCap: number;
  /** the container's cgroup: each hierarchy's cgroup.procs (host paths) */
  cgroupProcs?: readonly string[];
}

/** The container's environment with the exec's own on top: a name the exec sets wins, as in Docker. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const name = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  const over = new Set(extra.map(name));
  return [...base.filter((e) => !over.has(name(e))), ...extra];
}

/**
 * The order is the contract:
 * 0. the cgroup joined (host paths) and the process made non-dumpable, as PID 1 is, while it
 *    still holds host fds and full root;
 * 1. its stdio opened by host paths (the pty's slave, the keeper's or skiffd's /proc/<pid>/fd/N of a pipe)
 *    while the host's /dev and /proc are still this process's;
 * 2. the pid namespace (child1, before its clone: see launch.c), then every other namespace of
 *    PID 1 in one setns through the pidfd, then the container's root by its fd;
 * 3. session and stdio, every other fd closed (the pidfd and root fd with them);
 * 4. the container's own privileges with the exec's user and workdir (privilegeOps: bounding
 *    set, ids, capabilities, no_new_privs, the workdir resolved in the root, seccomp last), exec.
 */
export function buildExecPlan(container: ContainerSpec, proc: ExecProcess, ctx: ExecPlanContext): Plan {
  const ops: Op[] = [
    ...(ctx.cgroupProcs ?? []).map((path): Op => ({ what: `join the container's cgroup \`${path}\``, op: 'join_cgroup', path })),
    { what: 'make the exec non-dumpable until exec', op: 'set_dumpable', dumpable: false },
    ...(ctx.console.kind === 'container-pty' ? [] : consoleOpenOps(ctx.console)),
  ];
  if (ctx.pidNamespace) ops.push({ what: 'enter the container\'s pid namespace', op: 'setns_pid', fd: ctx.pidfd });
  if (ctx.namespaces !== 0) ops.push({ what: 'enter the container\'s namespaces', op: 'setns', fd: ctx.pidfd, nstype: ctx.namespaces });
  ops.push(
    { what: 'enter the container\'s root', op: 'chroot', fd: ctx.rootFd },
    ...(ctx.console.kind === 'container-pty' ? containerPtyOps(ctx.console, proc.user) : stdioOps(ctx.console)),
    { what: 'close every other fd', op: 'close_from', fd: 3 },
    ...privilegeOps({ ...container, workdir: proc.workdir, user: proc.user }, ctx.lastCap),
  );
  return {
    cloneFlags: 0,
    uidMap: null,
    gidMap: null,
    ops,
    exec: { paths: execCandidates(proc.command[0]!, proc.env), argv: proc.command, envp: proc.env },
  };
}
