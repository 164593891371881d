// `skiff-oci exec --process FILE ID`: one more process in a running container, through the exec
// work's launch-plan operations: child1 enters the init's pid namespace (setns_pid), the process
// it clones joins the cgroup, the init's other namespaces (setns through a pidfd) and its root
// (chroot to /proc/<pid>/root), then takes process.json's user, capabilities, no_new_privs,
// cwd and the container's seccomp filter, as the init did. With --detach the call returns once
// the process has exec'd (containerd's shim and conmon use that); without, skiff-oci is the
// process's subreaper and exits with its status.
import { readFileSync, readlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, processField } from './config.js';
import { lastCap, readConfig } from './create.js';
import { OciError, fsMessage } from './errors.js';
import { pause, statusOf } from './status.js';
import { mustRecord, writeAtomic } from './store.js';
import { privilegeOps } from './translate.js';
import type { Op } from '../native/plan-format.js';

export interface ExecOptions {
  root: string;
  id: string;
  processFile: string;
  consoleSocket: string | null;
  detach: boolean;
  pidFile: string | null;
  preserveFds: number;
}

const CONSOLE_REG = 0;
const CLONE_NEWCGROUP = 0x02000000;

/** Returns the exit status of the call: 0 with --detach, else the process's (128+N for signal N). */
export async function exec(o: ExecOptions): Promise<number> {
  const r = mustRecord(o.root, o.id);
  const status = statusOf(o.root, r);
  if (status !== 'running') throw new OciError(`cannot exec in a ${status} container`);
  let text: string;
  try {
    text = readFileSync(o.processFile, 'utf8');
  } catch (err) {
    throw new OciError(fsMessage('read the process', o.processFile, err), { cause: err });
  }
  let proc;
  try {
    proc = processField(JSON.parse(text));
  } catch (err) {
    throw new OciError(`process.json: ${err instanceof ConfigError ? err.message.replace(/^process\./, '') : `is not JSON: ${(err as Error).message}`}`, { cause: err });
  }
  if (proc.terminal && o.consoleSocket === null) throw new OciError('process.terminal is true: --console-socket is needed to pass the console\'s master on');
  if (!proc.terminal && o.consoleSocket !== null) throw new OciError('--console-socket was given but process.terminal is false');
  const config = readConfig(r.bundle);
  const userNs = config.linux.namespaces.some((n) => n.type === 'user');

  const [{ launch, sendFd, LaunchError }, libc, { execCandidates }, k] = await Promise.all([
    import('../native/launch.js'), import('../sys/libc.js'), import('../workers/plan.js'), import('../sys/constants.js'),
  ]);
  const opened: number[] = [];
  try {
    const pidfd = libc.pidfdOpen(r.pid);
    opened.push(pidfd);
    const rootFd = libc.openPath(`/proc/${r.pid}/root`, k.O_PATH | k.O_DIRECTORY);
    opened.push(rootFd);
    const ns = (pid: number | 'self', name: string): string => readlinkSync(`/proc/${pid}/ns/${name}`);
    let namespaces = 0;
    for (const [name, flag] of [['user', k.CLONE_NEWUSER], ['mnt', k.CLONE_NEWNS], ['uts', k.CLONE_NEWUTS], ['ipc', k.CLONE_NEWIPC], ['net', k.CLONE_NEWNET], ['cgroup', CLONE_NEWCGROUP]] as const) {
      if (ns(r.pid, name) !== ns('self', name)) namespaces |= flag;
    }
    let slave: string | null = null;
    if (proc.terminal) {
      const pty = libc.openPty();
      opened.push(pty.master);
      slave = pty.slavePath;
      if (proc.consoleSize) libc.setWindowSize(pty.master, proc.consoleSize.height, proc.consoleSize.width);
    }
    const ops: Op[] = [
      ...(userNs ? [] : r.cgroups.map((d): Op => ({ what: `join the container's cgroup \`${d}\``, op: 'join_cgroup', path: `${d}/cgroup.procs` }))),
      { what: 'make the exec non-dumpable until exec', op: 'set_dumpable', dumpable: false },
      ...(slave === null ? [] : [{ what: `process.terminal: open the console \`${slave}\``, op: 'open', path: slave, flags: k.O_RDWR | k.O_NOCTTY, register: CONSOLE_REG } as const]),
    ];
    if (ns(r.pid, 'pid') !== ns('self', 'pid')) ops.push({ what: 'enter the container\'s pid namespace', op: 'setns_pid', fd: pidfd });
    if (namespaces !== 0) ops.push({ what: 'enter the container\'s namespaces', op: 'setns', fd: pidfd, nstype: namespaces });
    ops.push({ what: 'enter the container\'s root', op: 'chroot', fd: rootFd }, { what: 'start a new session', op: 'setsid' });
    if (slave !== null) {
      ops.push(
        { what: 'process.terminal: make the console the controlling terminal', op: 'set_ctty', register: CONSOLE_REG },
        ...[0, 1, 2].map((fd): Op => ({ what: `process.terminal: the console on fd ${fd}`, op: 'dup2', register: CONSOLE_REG, fd })),
      );
    }
    for (const rl of proc.rlimits) ops.push({ what: `process.rlimits: set ${rl.type}`, op: 'setrlimit', resource: rl.resource, soft: rl.soft, hard: rl.hard });
    ops.push(
      { what: `close every fd from ${3 + o.preserveFds}`, op: 'close_from', fd: 3 + o.preserveFds },
      ...privilegeOps({ ...config, process: proc }, lastCap(), userNs),
    );
    for (let fd = 0; fd < 3 + o.preserveFds; fd++) {
      try {
        libc.clearCloseOnExec(fd);
      } catch (err) {
        if (fd >= 3) throw new OciError(`--preserve-fds ${o.preserveFds}: fd ${fd} is not open`, { cause: err });
      }
    }
    process.umask(proc.user.umask ?? 0o022);
    // Without --detach the process is this call's to wait for: orphaned by the launch's child,
    // it is re-parented here.
    if (!o.detach) libc.setChildSubreaper(true);
    let pid: number;
    try {
      pid = launch({ cloneFlags: 0, uidMap: null, gidMap: null, ops, exec: { paths: execCandidates(proc.args[0]!, proc.env), argv: proc.args, envp: proc.env } });
    } catch (err) {
      if (err instanceof LaunchError && err.op === 'execve') throw new OciError(`exec failed: ${JSON.stringify(proc.args[0])}: ${err.code === 'ENOENT' ? 'executable file not found in $PATH' : err.code}`, { cause: err });
      throw new OciError(`exec failed: ${(err as Error).message}`, { cause: err });
    }
    if (o.pidFile !== null) writeAtomic(resolve(o.pidFile), String(pid));
    if (slave !== null && o.consoleSocket !== null) {
      try {
        sendFd(o.consoleSocket, opened[opened.length - 1]!, slave);
      } catch (err) {
        throw new OciError((err as Error).message, { cause: err });
      }
    }
    if (o.detach) return 0;
    const wait = libc.pidfdOpen(pid);
    opened.push(wait);
    for (let ms = 1; ; ms = Math.min(ms * 2, 20)) {
      const exit = libc.waitPidfd(wait);
      if (exit !== null) return exit.code === 1 /* CLD_EXITED */ ? exit.status : 128 + exit.status;
      pause(ms);
    }
  } finally {
    for (const fd of opened) libc.close(fd);
  }
}
