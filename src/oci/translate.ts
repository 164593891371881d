// An OCI config → a launch plan for a detached init (it stops before the exec until `start`).
// Pure: whatever needs the host (a bind source's kind, a masked path's kind, the cgroup's
// directories, the console) is decided by the caller and passed in the context.
//
// The order, and why:
// 0. join the cgroup (so all the init does is counted) and, with a cgroup namespace, unshare it
//    then (its root is the container's cgroup); PID 1 non-dumpable; join namespaces given by path;
// 1. `/` made rslave (or linux.rootfsPropagation), so nothing below propagates to the host,
//    then the rootfs bound on itself (pivot_root needs a mount point);
// 2. config.json's mounts in order, every target beneath the rootfs, while host sources are reachable;
// 3. the runtime's devices and /dev links (when /dev is a mount of the config), the console;
// 4. pivot_root;
// 5. sysctls, then maskedPaths, readonlyPaths, a read-only root, the hostname, loopback;
// 6. session and stdio, rlimits, oom_score_adj, the cwd made;
// 7. capabilities, ids, no_new_privs, seccomp (before the capabilities without no_new_privs:
//    loading it then needs CAP_SYS_ADMIN), the cwd;
// 8. every fd closed but stdio, the preserved ones and the start fifo (opened read-write by create,
//    inherited: no path to reach, whatever user the init is by then); wait_start; exec.
import { execCandidates } from '../workers/plan.js';
import { capabilityMask } from '../spec/capabilities.js';
import { compileSeccompProfile } from '../workers/seccomp-compile.js';
import { encodeFilter } from '../workers/bpf.js';
import {
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, MASK_DIRECTORY, MASK_OPTIONAL, MS_BIND, MS_NODEV,
  MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, S_IFCHR, S_IFREG,
  type Op, type Plan,
} from '../native/plan-format.js';
import { O_NOCTTY, O_NOFOLLOW, O_PATH, O_RDWR } from '../sys/constants.js';
import type { NamespaceType, OciConfig } from './config.js';
import { IN_ROOT, PROPAGATION, cgroupMountOps, mountOps, type MountContext } from './mounts.js';
import { OciError } from './errors.js';

const CLONE_NEWCGROUP = 0x02000000;
const MS_SLAVE = 1 << 19;
const SYSTEM = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
const WORKDIR = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

const CONSOLE_REG = 0;
const MASK_REG = 2;
const CONSOLE_MASTER_REG = 5;

const NS_FLAG: Readonly<Record<NamespaceType, number>> = {
  pid: CLONE_NEWPID, network: CLONE_NEWNET, mount: CLONE_NEWNS, ipc: CLONE_NEWIPC, uts: CLONE_NEWUTS, user: CLONE_NEWUSER, cgroup: CLONE_NEWCGROUP,
};

/** The devices every container gets (the runtime spec's list), made or, in a user namespace, bound from the host. */
const DEFAULT_DEVICES: ReadonlyArray<[name: string, major: number, minor: number]> = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
];

export interface TranslateContext {
  rootfs: string;
  /** the pty's slave (host path) with a terminal in a user namespace, where create opens the pty */
  console: string | null;
  /**
   * with a terminal otherwise: PID 1 opens a pty of the container's own devpts (so `tty` names
   * /dev/pts/N inside, as under runc) and sends its master to the console socket itself
   */
  devptsConsole: { socket: string; rows: number; cols: number } | null;
  /** each hierarchy's cgroup.procs for PID 1 to join; null: joined from outside (user namespace) */
  cgroupProcs: readonly string[] | null;
  /** a v1 host's hierarchies for a `cgroup` mount: the mount's name and the container's directory */
  cgroupHierarchies: readonly { name: string; dir: string }[];
  /** the start fifo, as the fd (open read-write) the init inherits from create */
  fifoFd: number;
  preserveFds: number;
  lastCap: number;
  /** per mount, what the host says about its source and target */
  mounts: readonly MountContext[];
  /** per masked path, what it is: a directory gets a tmpfs, a file /dev/null; missing ones are skipped */
  masked: readonly ('file' | 'dir' | 'missing')[];
}

function mapText(maps: OciConfig['linux']['uidMappings']): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function devOps(config: OciConfig, userNs: boolean, console: boolean): Op[] {
  const ops: Op[] = [];
  const make = (path: string, type: 'c' | 'b' | 'u' | 'p', major: number, minor: number, mode: number): void => {
    if (userNs) {
      // No mknod in a user namespace: an empty file, and the host's node bound on it.
      ops.push(
        { what: `create \`${path}\` to bind the host's on`, op: 'mknod', path, mode: S_IFREG | 0o644, major: 0, minor: 0, resolve: IN_ROOT },
        { what: `bind the host's \`${path}\``, op: 'mount', source: path, target: path, fstype: null, flags: MS_BIND, data: null, resolve: IN_ROOT },
      );
    } else {
      const kind = type === 'b' ? 0o060000 : type === 'p' ? 0o010000 : S_IFCHR;
      ops.push({ what: `create \`${path}\``, op: 'mknod', path, mode: kind | mode, major, minor, resolve: IN_ROOT });
    }
  };
  const given = new Set(config.linux.devices.map((d) => d.path));
  for (const [name, major, minor] of DEFAULT_DEVICES) if (!given.has(`/dev/${name}`)) make(`/dev/${name}`, 'c', major, minor, 0o666);
  config.linux.devices.forEach((d) => {
    const parts = d.path.split('/').filter(Boolean).slice(0, -1);
    parts.forEach((_, i) => ops.push({ what: `linux.devices: create \`/${parts.slice(0, i + 1).join('/')}\``, op: 'mkdir', path: `/${parts.slice(0, i + 1).join('/')}`, mode: 0o755, resolve: IN_ROOT, existOk: true }));
    make(d.path, d.type, d.major, d.minor, d.fileMode & 0o777);
    if ((d.uid !== 0 || d.gid !== 0) && !userNs) throw new OciError(`linux.devices: ${d.path}: a uid or gid other than 0 is not supported by skiff-oci`);
  });
  for (const [target, link] of [['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'], ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx']] as const) {
    ops.push({ what: `link \`${link}\``, op: 'symlink', target, linkpath: link, resolve: SYSTEM });
  }
  if (console) {
    ops.push(
      { what: 'create `/dev/console`', op: 'mknod', path: '/dev/console', mode: S_IFREG | 0o600, major: 0, minor: 0, resolve: SYSTEM },
      { what: 'bind the console on `/dev/console`', op: 'mount', source: null, target: '/dev/console', fstype: null, flags: MS_BIND, data: null, resolve: SYSTEM, sourceRegister: CONSOLE_REG },
    );
  }
  return ops;
}

export function privilegeOps(config: OciConfig, lastCap: number, userNs: boolean): Op[] {
  const p = config.process;
  const known = (1n << BigInt(lastCap + 1)) - 1n;
  // Capabilities this kernel lacks are left out, as runc leaves them (a newer engine's default list).
  const mask = (caps: number[]): bigint => capabilityMask(caps.filter((c) => c <= lastCap));
  const caps = p.capabilities ?? { bounding: [], effective: [], permitted: [], inheritable: [] };
  const bounding = mask(caps.bounding);
  const u = p.user;
  const held = mask(caps.permitted) | mask(caps.effective);
  const ops: Op[] = [{ what: 'process.capabilities.bounding: drop the others', op: 'drop_bounding', caps: known & ~bounding }];
  // A uid other than 0 loses its permitted set at setresuid unless keepcaps is on.
  if (u.uid !== 0 && held !== 0n) ops.push({ what: 'keep the capabilities across the uid change', op: 'set_keepcaps' });
  ops.push(
    // In a user namespace setgroups(2) is denied (the gid map is written by an unprivileged rule),
    // so the groups can only be the gid itself.
    // setgroups holds six groups in its operation; setgroups_list (op 65) any number
    ...(userNs ? [] : [{ what: `process.user.additionalGids: set [${u.additionalGids.join(', ')}]`, op: u.additionalGids.length <= 6 ? 'setgroups' : 'setgroups_list', gids: u.additionalGids } as const]),
    { what: `process.user.gid: set ${u.gid}`, op: 'setresgid', gid: u.gid },
    { what: `process.user.uid: set ${u.uid}`, op: 'setresuid', uid: u.uid },
    { what: 'process.capabilities: set the effective, permitted and inheritable sets', op: 'set_caps', effective: mask(caps.effective), permitted: mask(caps.permitted), inheritable: mask(caps.inheritable) },
  );
  const seccomp: Op[] = [];
  if (config.linux.seccomp !== null) {
    const capsHeld = [...caps.effective].filter((c) => c <= lastCap);
    let compiled;
    try {
      compiled = compileSeccompProfile({ profile: config.linux.seccomp, source: 'linux.seccomp' }, { caps: capsHeld });
    } catch (err) {
      throw new OciError(`linux.seccomp: ${(err as Error).message}`, { cause: err });
    }
    seccomp.push({ what: 'linux.seccomp: load the filter', op: 'seccomp', program: encodeFilter(compiled.insns), flags: compiled.flags });
  }
  const chdir: Op = { what: `process.cwd: change to \`${p.cwd}\``, op: 'chdir', path: p.cwd, resolve: WORKDIR };
  if (p.noNewPrivileges) return [...ops, { what: 'process.noNewPrivileges', op: 'set_no_new_privs' }, chdir, ...seccomp];
  return [...seccomp, ...ops, chdir];
}

export function translate(config: OciConfig, ctx: TranslateContext): Plan {
  const ns = config.linux.namespaces;
  const newNs = (t: NamespaceType): boolean => ns.some((n) => n.type === t && n.path === null);
  const userNs = newNs('user');
  const u = config.process.user;
  if (userNs && u.additionalGids.some((g) => g !== u.gid)) throw new OciError('process.user.additionalGids: in a user namespace skiff-oci cannot set groups other than process.user.gid (setgroups is denied there)');
  if (!newNs('mount')) throw new OciError('linux.namespaces: skiff-oci needs a new mount namespace (type "mount" without a path)');
  const R = ctx.rootfs;
  const ops: Op[] = [
    ...(ctx.cgroupProcs ?? []).map((path): Op => ({ what: `linux.cgroupsPath: join \`${path}\``, op: 'join_cgroup', path })),
  ];
  // The cgroup namespace is PID 1's own, made once it is in its cgroup: that cgroup is its root.
  let cloneFlags = 0;
  for (const n of ns) if (n.path === null && n.type !== 'cgroup') cloneFlags |= NS_FLAG[n.type];
  if (newNs('cgroup')) {
    if (ctx.cgroupProcs === null) cloneFlags |= CLONE_NEWCGROUP;
    else ops.push({ what: 'linux.namespaces: a new cgroup namespace', op: 'unshare', flags: CLONE_NEWCGROUP });
  }
  ops.push({ what: 'make PID 1 non-dumpable until exec', op: 'set_dumpable', dumpable: false });
  // A new user namespace's first process still has the host's ids, which its maps do not hold
  // (files it made would be EOVERFLOW): it becomes the namespace's root first.
  if (userNs) {
    ops.push(
      { what: 'user namespace: become its root group', op: 'setresgid', gid: 0 },
      { what: 'user namespace: become its root user', op: 'setresuid', uid: 0 },
    );
  }
  ns.forEach((n, i) => {
    if (n.path === null) return;
    // setns(CLONE_NEWPID) moves only the caller's future children: child1 joins, then clones PID 1 into it
    if (n.type === 'pid') ops.push({ what: `linux.namespaces[${i}]: join the pid namespace \`${n.path}\``, op: 'setns_pid_path', path: n.path });
    else ops.push({ what: `linux.namespaces[${i}]: join the ${n.type} namespace \`${n.path}\``, op: 'setns_path', path: n.path, nstype: NS_FLAG[n.type] });
  });
  const propagation = config.linux.rootfsPropagation === null ? MS_SLAVE | MS_REC : PROPAGATION[config.linux.rootfsPropagation]!;
  ops.push(
    { what: 'linux.rootfsPropagation: set the propagation of `/`', op: 'mount', source: null, target: '/', fstype: null, flags: propagation, data: null, resolve: 0 },
    { what: `root.path: bind the rootfs \`${R}\` on itself`, op: 'mount', source: R, target: R, fstype: null, flags: MS_BIND | MS_REC, data: null, resolve: 0 },
    { what: 'root.path: open the rootfs', op: 'open_root', path: R },
  );
  let devMounted = false;
  config.mounts.forEach((m, i) => {
    if (m.type === 'cgroup') {
      if (ctx.cgroupHierarchies.length === 0) throw new OciError(`mounts[${i}]: a cgroup mount needs the container's cgroup (linux.cgroupsPath)`);
      ops.push(...cgroupMountOps(m, i, ctx.cgroupHierarchies));
      return;
    }
    ops.push(...mountOps(m, i, ctx.mounts[i]!));
    if (m.destination === '/dev') devMounted = true;
  });
  const hasConsole = ctx.console !== null || ctx.devptsConsole !== null;
  if (ctx.console !== null) ops.push({ what: `process.terminal: open the console \`${ctx.console}\``, op: 'open', path: ctx.console, flags: O_RDWR | O_NOCTTY, register: CONSOLE_REG });
  if (hasConsole && !devMounted) throw new OciError('process.terminal: a console needs a /dev mount in mounts');
  if (ctx.devptsConsole !== null) {
    const c = ctx.devptsConsole;
    // Before pivot_root: the console socket is a host path.
    ops.push(
      { what: 'process.terminal: open a pty of the container\'s devpts (`/dev/pts/ptmx`: a devpts mount at /dev/pts is needed)', op: 'open_pty_at', path: '/dev/pts/ptmx', resolve: SYSTEM, master: CONSOLE_MASTER_REG, peer: CONSOLE_REG, rows: c.rows, cols: c.cols },
      { what: `process.terminal: send the console's master to \`${c.socket}\``, op: 'send_fd_to', path: c.socket, register: CONSOLE_MASTER_REG },
    );
  }
  if (devMounted) ops.push(...devOps(config, userNs, hasConsole));
  ops.push(
    { what: `pivot into the rootfs \`${R}\``, op: 'pivot_root', path: R },
    { what: 'open the new root', op: 'open_root', path: '/' },
  );
  for (const [key, value] of Object.entries(config.linux.sysctl)) {
    ops.push({ what: `linux.sysctl: set ${key}`, op: 'write_file', path: `/proc/sys/${key.replace(/\./g, '/')}`, data: value, resolve: SYSTEM });
  }
  if (config.linux.maskedPaths.length > 0) {
    ops.push(
      { what: 'linux.maskedPaths: open `/dev/null` as the mask source', op: 'open', path: '/dev/null', flags: O_PATH | O_NOFOLLOW, register: MASK_REG },
      { what: 'linux.maskedPaths: check that `/dev/null` is the null device', op: 'check_char', register: MASK_REG, major: 1, minor: 3 },
    );
  }
  config.linux.maskedPaths.forEach((path, i) => {
    const kind = ctx.masked[i];
    if (kind === 'missing') return;
    ops.push({ what: `linux.maskedPaths[${i}]: mask \`${path}\``, op: 'mask', path, resolve: SYSTEM, flags: MASK_OPTIONAL | (kind === 'dir' ? MASK_DIRECTORY : 0), register: MASK_REG, tmpfsFlags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfsData: 'size=0,mode=555' });
  });
  config.linux.readonlyPaths.forEach((path, i) => {
    ops.push({ what: `linux.readonlyPaths[${i}]: make \`${path}\` read-only`, op: 'readonly', path, resolve: SYSTEM, flags: MASK_OPTIONAL });
  });
  if (config.root.readonly) ops.push({ what: 'root.readonly: make the rootfs read-only', op: 'remount_ro', target: '/', resolve: 0, extraFlags: 0 });
  if (config.hostname !== null && config.hostname !== '') ops.push({ what: `hostname: set \`${config.hostname}\``, op: 'sethostname', hostname: config.hostname });
  if (newNs('network')) ops.push({ what: 'bring up the loopback interface', op: 'loopback_up' });

  ops.push({ what: 'start a new session', op: 'setsid' });
  if (hasConsole) {
    ops.push(
      { what: 'process.terminal: make the console the controlling terminal', op: 'set_ctty', register: CONSOLE_REG },
      ...[0, 1, 2].map((fd): Op => ({ what: `process.terminal: the console on fd ${fd}`, op: 'dup2', register: CONSOLE_REG, fd })),
    );
  }
  for (const r of config.process.rlimits) ops.push({ what: `process.rlimits: set ${r.type}`, op: 'setrlimit', resource: r.resource, soft: r.soft, hard: r.hard });
  if (config.process.oomScoreAdj !== null) ops.push({ what: 'process.oomScoreAdj: write `/proc/self/oom_score_adj`', op: 'write_file', path: '/proc/self/oom_score_adj', data: String(config.process.oomScoreAdj), resolve: 0 });
  // The cwd as runc makes it, while the init still has the right to.
  const parts = config.process.cwd.split('/').filter(Boolean);
  parts.forEach((_, i) => ops.push({ what: `process.cwd: create \`/${parts.slice(0, i + 1).join('/')}\``, op: 'mkdir', path: `/${parts.slice(0, i + 1).join('/')}`, mode: 0o755, resolve: WORKDIR, existOk: true, bestEffort: true }));
  const fifoFd = 3 + ctx.preserveFds;
  ops.push(
    { what: `keep the start fifo (fd ${ctx.fifoFd}) on fd ${fifoFd}`, op: 'dup_fd', from: ctx.fifoFd, to: fifoFd },
    { what: `close every fd from ${fifoFd + 1} (--preserve-fds ${ctx.preserveFds})`, op: 'close_from', fd: fifoFd + 1 },
    ...privilegeOps(config, ctx.lastCap, userNs),
    { what: 'wait for `start`', op: 'wait_start', fd: fifoFd },
  );
  const env = config.process.env;
  return {
    cloneFlags,
    uidMap: userNs ? mapText(config.linux.uidMappings) : null,
    gidMap: userNs ? mapText(config.linux.gidMappings) : null,
    ops,
    exec: { paths: execCandidates(config.process.args[0]!, env), argv: config.process.args, envp: env },
  };
}
