// One exec, as a launcher worker performs it: the container's PID 1 pinned by a pidfd (and
// checked to be the same process skiffd recorded, not a recycled pid), its root and its
// namespaces found, the exec plan built and launched. The fds it opens are closed whatever happens.
import { readlinkSync } from 'node:fs';
import { fdChannel, launch, recvFd } from '../native/launch.js';
import { CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, O_DIRECTORY, O_PATH } from '../sys/constants.js';
import type { ContainerSpec } from '../spec/container.js';
import { close, openPath, pidfdOpen } from '../sys/libc.js';
import { liveStartTime } from '../sys/proc.js';
import { SysError } from '../sys/errno.js';
import { buildExecPlan, type ExecProcess } from './exec-plan.js';
import type { LaunchConsole } from './plan.js';
import { lastCap, launchFailure, StartError } from './start.js';

export interface ExecRequest {
  /** the container's PID 1 in skiffd's pid namespace, and its /proc start time */
  pid: number;
  pidStartTime: number;
  /** the container's spec: its capabilities, seccomp profile and no_new_privs apply to the exec too */
  container: ContainerSpec;
  process: ExecProcess;
  /** container-pty: a pty made in the container's devpts, its master handed back (ExecLaunched.ptyMaster) */
  console: LaunchConsole | { kind: 'container-pty' };
  /** the container's cgroup: each hierarchy's cgroup.procs, joined before anything else */
  cgroupProcs?: string[];
  /** test-only: make operation k fail with this errno (failure injection) */
  failAt?: { index: number; errno: number };
}

/** Namespaces entered with one setns through the pidfd, when PID 1's differs from ours. */
const NAMESPACES: ReadonlyArray<[name: string, flag: number]> = [
  ['mnt', CLONE_NEWNS], ['uts', CLONE_NEWUTS], ['ipc', CLONE_NEWIPC], ['net', CLONE_NEWNET], ['cgroup', CLONE_NEWCGROUP],
];

function nsLink(pid: number | 'self', name: string): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/${name}`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SysError('readlink', -(e.errno ?? 0) || 5, `/proc/${pid}/ns/${name}`, { cause: err });
  }
}

function gone(req: ExecRequest): StartError {
  return new StartError({ message: `the container's process ${req.pid} has exited`, code: 'ESRCH', exitCode: 125 });
}

export interface ExecLaunched {
  pid: number;
  /** with a container-pty console: the pty's master, open in this process; the caller closes it */
  ptyMaster?: number;
}

/** Runs an exec in a running container; returns its pid in skiffd's pid namespace once it has exec'd. */
export function execInContainer(req: ExecRequest): ExecLaunched {
  const opened: number[] = [];
  try {
    let pidfd: number;
    try {
      pidfd = pidfdOpen(req.pid);
    } catch (err) {
      if (err instanceof SysError && err.code === 'ESRCH') throw gone(req);
      throw err;
    }
    opened.push(pidfd);
    const rootFd = openPath(`/proc/${req.pid}/root`, O_PATH | O_DIRECTORY);
    opened.push(rootFd);
    let namespaces = 0;
    for (const [name, flag] of NAMESPACES) if (nsLink(req.pid, name) !== nsLink('self', name)) namespaces |= flag;
    if (nsLink(req.pid, 'user') !== nsLink('self', 'user')) {
      throw new StartError({ message: `the container's process ${req.pid} is in a user namespace of its own, which exec cannot enter yet`, code: 'EINVAL', exitCode: 125 });
    }
    const pidNamespace = nsLink(req.pid, 'pid') !== nsLink('self', 'pid');
    // Checked last: everything above was opened while the pid was still PID 1's (a pid is not
    // given to another process while its holder lives, and a later start time would differ).
    if (liveStartTime(req.pid) !== req.pidStartTime) throw gone(req);
    // The pty's master comes back on this channel: [0] is read here, the exec sends on [1].
    const channel = req.console.kind === 'container-pty' ? fdChannel() : null;
    if (channel) opened.push(...channel);
    const console = req.console.kind === 'container-pty' ? { kind: 'container-pty' as const, socket: channel![1] } : req.console;
    const plan = buildExecPlan(req.container, req.process, {
      pidfd, rootFd, namespaces, pidNamespace, console, lastCap: lastCap(),
      ...(req.cgroupProcs ? { cgroupProcs: req.cgroupProcs } : {}),
    });
    if (req.failAt) {
      const { index, errno } = req.failAt;
      const target = plan.ops[index];
      if (target === undefined) throw new Error(`failAt: plan has ${plan.ops.length} operations, not ${index + 1}`);
      plan.ops.splice(index, 0, { what: `${target.what} [injected failure]`, op: 'fail', errno });
    }
    let pid: number;
    try {
      pid = launch(plan);
    } catch (err) {
      throw launchFailure(err, req.process.command[0]!);
    }
    if (!channel) return { pid };
    // It has exec'd, so its send_fd ran: the master is waiting on the channel.
    try {
      return { pid, ptyMaster: recvFd(channel[0], `the exec's pty master from process ${pid}`) };
    } catch (err) {
      // A terminal nobody can read is no exec: it goes, and skiffd's stray reaper reaps it.
      process.kill(pid, 'SIGKILL');
      throw new StartError({ message: `the launcher worker got no pty master: ${(err as Error).message}`, exitCode: 125 });
    }
  } catch (err) {
    if (err instanceof SysError) throw launchFailure(err, req.process.command[0]!);
    throw err;
  } finally {
    for (const fd of opened) close(fd);
  }
}
