// Spec → launch plan. All launch policy lives here: which namespaces, which mounts in
// which order, which devices, which fds. Pure: no I/O, so it is unit-tested without root.
import type { ContainerSpec } from '../spec/container.js';
import { DEFAULT_PATH, hasOverlayRoot } from '../spec/container.js';
import { capabilityMask, resolveCapabilities } from '../spec/capabilities.js';
import { unreachable } from '../api/unreachable.js';
import { seccompOps } from './seccomp-compile.js';
import { below, type HostAlias } from './host-mounts.js';
import { networkOps, type NetAttachment } from '../net/container-plan.js';
import {
  CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, MOUNT_ATTR_NODEV, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID,
  MASK_DIRECTORY, MASK_OPTIONAL, MS_PRIVATE, MS_RDONLY, MS_REC, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, S_IFCHR, S_IFREG,
  type Op, type Plan,
} from '../native/plan-format.js';
import { O_APPEND, O_CREAT, O_NOCTTY, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_WRONLY } from '../sys/constants.js';

/**
 * Where the container's stdio goes: a pty (with a TTY), or three pipes (without one, as Docker
 * does), their other ends kept by the console forwarder. Pipe ends are opened by path: the
 * forwarder's own (/proc/<keeper>/fd/N), or an exec's pipes skiffd made (/proc/<skiffd>/fd/N);
 * stdin null means /dev/null (no OpenStdin).
 */
export type LaunchConsole =
  | { kind: 'pty'; slavePath: string }
  | { kind: 'pipes'; stdin: string | null; stdout: string; stderr: string }
  | { kind: 'file'; path: string }
  | { kind: 'null' };

export interface LaunchContext {
  /** An empty host directory used as the new root's mount point; shared by all containers (each mounts it in its own namespace). */
  rootMount: string;
  /** For an image: the overlay's upper and work directories (on the same filesystem). */
  layer: { upper: string; work: string } | null;
  console: LaunchConsole;
  /** the host kernel's highest capability number (/proc/sys/kernel/cap_last_cap) */
  lastCap: number;
  /** host directories no container may see (skiffd's state, with its socket), at every place they show */
  hidden: readonly HostAlias[];
  /**
   * bind sources that are files, not directories (the worker stats them): their missing target
   * cannot be a new directory, so only its parents are made and the file must exist
   */
  fileSources?: ReadonlySet<string>;
  /** a bridge network's attachment (src/net/container-plan.ts): a veth, eth0's address and routes */
  net?: NetAttachment;
  /**
   * files skiffd writes for the container (/etc/hosts, /etc/resolv.conf of a bridge network), bound
   * over their targets after the user's mounts; `create`: the rootfs lacks the target, make it empty first
   */
  fileBinds?: ReadonlyArray<{ source: string; target: string; create: boolean }>;
  /**
   * the container's cgroup, as the cgroup.procs file of each hierarchy (host paths): PID 1
   * joins them first, before it has any child and while the host's /sys is still in view
   */
  cgroupProcs?: readonly string[];
}

/** Targets inside the rootfs: a symlink or ".." must never lead out of it. */
const IN_ROOT = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
/** The workdir: symlinks followed as the container sees them (inside its root), magic links (/proc/self/fd/N) refused. */
const WORKDIR = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
/** skiff's own mount points (/proc, /dev, /sys…): no symlinks at all, so a rootfs cannot redirect them. */
const SYSTEM = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;

const CONSOLE_REG = 0;
const STDIN_REG = 1;
/** a pipe console's stderr (its stdout is CONSOLE_REG) and stdin */
const STDERR_REG = 3;
const PIPE_STDIN_REG = 4;
/** The container's /dev/null, verified, as the source of every masked file. */
const MASK_REG = 2;

/**
 * What the container must not see or change of the host's kernel, as Docker's defaults have it.
 * Masked: files read as /dev/null, directories as an empty read-only tmpfs. Whether each is a
 * file or a directory is the kernel's fixed layout; a path this kernel lacks is skipped.
 */
const MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug'];
const MASKED_DIRS = ['/proc/acpi', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
/** Read-only: sysctls, the sysrq trigger, and the kernel's bus, irq, fs and sound knobs. */
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger', '/proc/asound'];

/** mount(2)'s options are one page, NUL included (the kernel copies at most PAGE_SIZE). */
const OVERLAY_OPTIONS_MAX = 4096;

/** Devices every container gets: Docker's and the OCI runtime spec's default set. */
const DEVICES: ReadonlyArray<[name: string, major: number, minor: number]> = [
  ['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0],
];

/** execvp's search, decided here: the candidates the launcher tries in order. */
export function execCandidates(command: string, env: string[]): string[] {
  if (command.includes('/')) return [command];
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  return pathVar.split(':').map((dir) => `${dir === '' ? '.' : dir.replace(/\/+$/, '')}/${command}`);
}

function rootOps(spec: ContainerSpec, ctx: LaunchContext): Op[] {
  const M = ctx.rootMount;
  if (spec.fromImage !== null) {
    if (!ctx.layer) throw new Error('plan: an image needs a writable layer (upper and work directories)');
    // Several lowerdirs, the top layer first, as overlayfs stacks them. nodev: a device node
    // that a pulled layer brings (a block device of the host's disk) opens nothing; the
    // container's /dev is a mount of its own. Whiteouts are overlayfs's business, not opens.
    const what = `image: mount an overlay of the ${spec.fromImage.layers.length} layers of \`${spec.fromImage.ref}\``;
    const data = `lowerdir=${spec.fromImage.layers.join(':')},upperdir=${ctx.layer.upper},workdir=${ctx.layer.work}`;
    // mount(2) takes its options in one page; an image of more layers (about 30 of skiff's
    // paths) is mounted through the new mount API, one "lowerdir+" per layer. mount(2) stays
    // for the rest: one system call, where the new API makes one per layer and three more.
    if (Buffer.byteLength(data) + 1 > OVERLAY_OPTIONS_MAX) {
      return [{ what, op: 'overlay', target: M, lowerdirs: spec.fromImage.layers, upperdir: ctx.layer.upper, workdir: ctx.layer.work, attrs: MOUNT_ATTR_NODEV }];
    }
    return [{ what, op: 'mount', source: 'overlay', target: M, fstype: 'overlay', flags: MS_NODEV, data, resolve: 0 }];
  }
  if (spec.image !== null) {
    if (!ctx.layer) throw new Error('plan: an image needs a writable layer (upper and work directories)');
    const data = `lowerdir=${spec.image},upperdir=${ctx.layer.upper},workdir=${ctx.layer.work}`;
    return [{ what: `image: mount an overlay of \`${spec.image}\``, op: 'mount', source: 'overlay', target: M, fstype: 'overlay', flags: 0, data, resolve: 0 }];
  }
  if (spec.rootfs === 'host') {
    // Non-recursive: the host's root filesystem only, none of its mounts (no /proc, /sys, /run of the host).
    return [
      { what: 'rootfs: bind the host\'s `/`', op: 'mount', source: '/', target: M, fstype: null, flags: MS_BIND, data: null, resolve: 0 },
      { what: 'rootfs: make the host\'s `/` read-only', op: 'remount_ro', target: M, resolve: 0, extraFlags: MS_NOSUID | MS_NODEV },
    ];
  }
  return [{ what: `rootfs: bind \`${spec.rootfs}\``, op: 'mount', source: spec.rootfs, target: M, fstype: null, flags: MS_BIND | MS_REC, data: null, resolve: 0 }];
}

/**
 * Mount points are created as Docker creates them: each missing directory on the way to `path`,
 * resolved beneath the root like the mount itself. Best effort: whatever stops one (a symlink
 * out of the root, a read-only root, a file in the way) is left for the operation that needs the
 * path, which reports it with its own context; the host root's read-only directories are
 * checked at create instead (src/main/docker/mount-points.ts).
 */
function mountPointOps(field: string, path: string, resolve: number): Op[] {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.map((_, i): Op => {
    const dir = `/${parts.slice(0, i + 1).join('/')}`;
    return { what: `${field}: create the mount point \`${dir}\``, op: 'mkdir', path: dir, mode: 0o755, resolve, existOk: true, bestEffort: true };
  });
}

function userMountOps(spec: ContainerSpec, writableRoot: boolean, fileSources: ReadonlySet<string>): Op[] {
  const ops: Op[] = [];
  spec.mounts.forEach((m, i) => {
    const field = `mounts[${i}]`;
    if (writableRoot && m.type === 'tmpfs') {
      // The parents best effort, the target itself not: its error (a symlink out of the root) is the tmpfs's.
      ops.push(...mountPointOps(field, m.target, IN_ROOT).slice(0, -1));
      ops.push({ what: `${field}: create \`${m.target}\` in the rootfs`, op: 'mkdir', path: m.target, mode: 0o755, resolve: IN_ROOT, existOk: true });
    } else {
      const points = mountPointOps(field, m.target, IN_ROOT);
      ops.push(...(m.type === 'bind' && fileSources.has(m.source) ? points.slice(0, -1) : points));
    }
    if (m.type === 'bind') {
      ops.push({ what: `${field}: bind \`${m.source}\` on \`${m.target}\``, op: 'mount', source: m.source, target: m.target, fstype: null, flags: MS_BIND | MS_REC, data: null, resolve: IN_ROOT });
      if (m.readOnly) ops.push({ what: `${field}: make \`${m.target}\` read-only`, op: 'remount_ro', target: m.target, resolve: IN_ROOT, extraFlags: 0 });
    } else {
      const data = m.size === null ? 'mode=1777' : `mode=1777,size=${m.size}`;
      ops.push({ what: `${field}: mount a tmpfs on \`${m.target}\``, op: 'mount', source: 'tmpfs', target: m.target, fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data, resolve: IN_ROOT });
    }
  });
  return ops;
}

function devOps(console: LaunchConsole): Op[] {
  const ops: Op[] = [
    { what: 'mount a tmpfs on `/dev`', op: 'mount', source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: MS_NOSUID, data: 'mode=755,size=65536k', resolve: SYSTEM },
  ];
  for (const [name, major, minor] of DEVICES) {
    ops.push({ what: `create \`/dev/${name}\``, op: 'mknod', path: `/dev/${name}`, mode: S_IFCHR | 0o666, major, minor, resolve: SYSTEM });
  }
  ops.push(
    { what: 'create `/dev/pts`', op: 'mkdir', path: '/dev/pts', mode: 0o755, resolve: SYSTEM, existOk: false },
    // A devpts instance of its own: the container's ptys are invisible to the host and to other containers.
    { what: 'mount devpts on `/dev/pts`', op: 'mount', source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS_NOSUID | MS_NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620', resolve: SYSTEM },
    { what: 'link `/dev/ptmx`', op: 'symlink', target: 'pts/ptmx', linkpath: '/dev/ptmx', resolve: SYSTEM },
    { what: 'create `/dev/shm`', op: 'mkdir', path: '/dev/shm', mode: 0o1777, resolve: SYSTEM, existOk: false },
    { what: 'mount a tmpfs on `/dev/shm`', op: 'mount', source: 'shm', target: '/dev/shm', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: 'mode=1777,size=65536k', resolve: SYSTEM },
    { what: 'link `/dev/fd`', op: 'symlink', target: '/proc/self/fd', linkpath: '/dev/fd', resolve: SYSTEM },
    { what: 'link `/dev/stdin`', op: 'symlink', target: '/proc/self/fd/0', linkpath: '/dev/stdin', resolve: SYSTEM },
    { what: 'link `/dev/stdout`', op: 'symlink', target: '/proc/self/fd/1', linkpath: '/dev/stdout', resolve: SYSTEM },
    { what: 'link `/dev/stderr`', op: 'symlink', target: '/proc/self/fd/2', linkpath: '/dev/stderr', resolve: SYSTEM },
  );
  if (console.kind === 'pty') {
    ops.push(
      { what: 'create `/dev/console`', op: 'mknod', path: '/dev/console', mode: S_IFREG | 0o600, major: 0, minor: 0, resolve: SYSTEM },
      { what: `bind the console \`${console.slavePath}\` on \`/dev/console\``, op: 'mount', source: null, target: '/dev/console', fstype: null, flags: MS_BIND, data: null, resolve: SYSTEM, sourceRegister: CONSOLE_REG },
    );
  }
  return ops;
}

/**
 * Masked and read-only paths, once the container's /proc and /sys are mounted (they are what is
 * masked) and while PID 1 still has CAP_SYS_ADMIN. The mask source is opened without following
 * a symlink and checked to be char 1:3: the node skiff made in the container's own /dev tmpfs.
 */
function maskOps(): Op[] {
  const ops: Op[] = [
    { what: 'open `/dev/null` as the mask source', op: 'open', path: '/dev/null', flags: O_PATH | O_NOFOLLOW, register: MASK_REG },
    { what: 'check that `/dev/null` is the null device (char 1:3)', op: 'check_char', register: MASK_REG, major: 1, minor: 3 },
  ];
  const tmpfsFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
  for (const path of MASKED_FILES) {
    ops.push({ what: `mask \`${path}\``, op: 'mask', path, resolve: SYSTEM, flags: MASK_OPTIONAL, register: MASK_REG, tmpfsFlags, tmpfsData: 'size=0,mode=555' });
  }
  for (const path of MASKED_DIRS) {
    ops.push({ what: `mask \`${path}\``, op: 'mask', path, resolve: SYSTEM, flags: MASK_OPTIONAL | MASK_DIRECTORY, register: MASK_REG, tmpfsFlags, tmpfsData: 'size=0,mode=555' });
  }
  for (const path of READONLY_PATHS) {
    ops.push({ what: `make \`${path}\` read-only`, op: 'readonly', path, resolve: SYSTEM, flags: MASK_OPTIONAL });
  }
  return ops;
}

/**
 * Where the hidden host directories show inside the container: through its root (a directory
 * bound with its submounts, an image's overlay, or the host's own root filesystem without
 * submounts) and through each bind mount. Paths are the container's.
 */
export function hiddenInContainer(spec: ContainerSpec, hidden: readonly HostAlias[]): string[] {
  const inside = new Set<string>();
  const add = (dir: string, rel: string | null): void => {
    if (rel !== null) inside.add(rel === '' ? dir : `${dir === '/' ? '' : dir}/${rel}`);
  };
  for (const a of hidden) {
    // A stored image's layers are skiffd's own, under the state dir: they never contain it.
    if (spec.fromImage !== null) add('/', null);
    else if (spec.image !== null) add('/', below(a.path, spec.image));
    else if (spec.rootfs === 'host') add('/', a.onRootMount ? below(a.path, '/') : null);
    else add('/', below(a.path, spec.rootfs));
    for (const m of spec.mounts) if (m.type === 'bind') add(m.target, below(a.path, m.source));
  }
  return [...inside].sort();
}

/**
 * skiffd's state directory (its socket lives there) under an empty read-only tmpfs wherever
 * the container could see it, last of all mounts so that nothing is mounted over the mask.
 * Resolved like the user's mount targets (a bind target may sit behind a symlink in the
 * rootfs); a place the container's own mounts cover (its /tmp, a tmpfs) is skipped.
 */
function hideOps(spec: ContainerSpec, hidden: readonly HostAlias[]): Op[] {
  return hiddenInContainer(spec, hidden).map((path): Op => ({
    what: `hide skiffd's state at \`${path}\``, op: 'mask', path, resolve: IN_ROOT, flags: MASK_OPTIONAL | MASK_DIRECTORY,
    register: MASK_REG, tmpfsFlags: MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, tmpfsData: 'size=0,mode=000',
  }));
}

export function stdioOps(console: LaunchConsole): Op[] {
  switch (console.kind) {
    case 'pty':
      // setsid first: only a session leader without a terminal may take one as its controlling tty.
      return [
        { what: 'start a new session', op: 'setsid' },
        { what: `make \`${console.slavePath}\` the controlling terminal`, op: 'set_ctty', register: CONSOLE_REG },
        { what: 'console on stdin', op: 'dup2', register: CONSOLE_REG, fd: 0 },
        { what: 'console on stdout', op: 'dup2', register: CONSOLE_REG, fd: 1 },
        { what: 'console on stderr', op: 'dup2', register: CONSOLE_REG, fd: 2 },
      ];
    case 'pipes':
      // No controlling terminal: a session of its own still, so that no signal of skiffd's session reaches it.
      return [
        { what: 'start a new session', op: 'setsid' },
        ...(console.stdin === null
          ? [{ what: 'open `/dev/null` for stdin', op: 'open', path: '/dev/null', flags: O_RDWR, register: STDIN_REG } as const,
            { what: '/dev/null on stdin', op: 'dup2', register: STDIN_REG, fd: 0 } as const]
          : [{ what: 'stdin pipe on stdin', op: 'dup2', register: PIPE_STDIN_REG, fd: 0 } as const]),
        { what: 'stdout pipe on stdout', op: 'dup2', register: CONSOLE_REG, fd: 1 },
        { what: 'stderr pipe on stderr', op: 'dup2', register: STDERR_REG, fd: 2 },
      ];
    case 'file':
    case 'null':
      return [
        { what: 'start a new session', op: 'setsid' },
        { what: 'open `/dev/null` for stdin', op: 'open', path: '/dev/null', flags: O_RDWR, register: STDIN_REG },
        { what: '/dev/null on stdin', op: 'dup2', register: STDIN_REG, fd: 0 },
        { what: 'output on stdout', op: 'dup2', register: console.kind === 'file' ? CONSOLE_REG : STDIN_REG, fd: 1 },
        { what: 'output on stderr', op: 'dup2', register: console.kind === 'file' ? CONSOLE_REG : STDIN_REG, fd: 2 },
      ];
    default:
      return unreachable(console, 'plan: console kind');
  }
}

/**
 * The console's host ends opened into the registers stdioOps reads: by host paths (the pty's
 * slave, the keeper's or skiffd's /proc/<pid>/fd/N of a pipe), so while the host's /dev and /proc are in view.
 */
export function consoleOpenOps(console: LaunchConsole): Op[] {
  switch (console.kind) {
    case 'pty':
      return [{ what: `open the console \`${console.slavePath}\``, op: 'open', path: console.slavePath, flags: O_RDWR | O_NOCTTY, register: CONSOLE_REG }];
    case 'pipes':
      // By the /proc path of the process that holds them, while the host's /proc is still there: a new open file
      // description of each pipe, blocking, as a program expects its stdio to be.
      return [
        ...(console.stdin === null ? [] : [{ what: `open the stdin pipe \`${console.stdin}\``, op: 'open', path: console.stdin, flags: O_RDONLY, register: PIPE_STDIN_REG } as const]),
        { what: `open the stdout pipe \`${console.stdout}\``, op: 'open', path: console.stdout, flags: O_WRONLY, register: CONSOLE_REG },
        { what: `open the stderr pipe \`${console.stderr}\``, op: 'open', path: console.stderr, flags: O_WRONLY, register: STDERR_REG },
      ];
    case 'file':
      return [{ what: `open the output file \`${console.path}\``, op: 'open', path: console.path, flags: O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, mode: 0o644, register: CONSOLE_REG }];
    case 'null':
      return [];
    default:
      return unreachable(console, 'plan: console kind');
  }
}

/**
 * Privileges, applied once nothing is left that needs full root (every mount, mknod, the
 * hostname, the loopback), then the workdir, entered with the init's own capabilities, and
 * the syscall filter last of all:
 * - bounding set first: dropping from it needs CAP_SETPCAP, which capset may take away;
 * - the inheritable set stays empty (as in Docker since CVE-2022-24769): an exec can only
 *   ever get the bounding set back; the ambient set is cleared;
 * - no_new_privs, so that a setuid binary or a file with capabilities gains nothing;
 * - seccomp last, so that no operation of the plan runs under the filter — except without
 *   no_new_privs, where loading a filter needs CAP_SYS_ADMIN: then it goes before the
 *   capabilities are dropped (as runc does), and the calls after it (prctl, capset, chdir)
 *   are ones the filter allows.
 */
export function privilegeOps(spec: ContainerSpec, lastCap: number): Op[] {
  const granted = resolveCapabilities(spec.capabilities).filter((c) => c <= lastCap);
  const keep = capabilityMask(granted);
  const known = (1n << BigInt(lastCap + 1)) - 1n;
  const seccomp: Op[] = seccompOps(spec.seccomp, granted);
  const chdir: Op = { what: `workdir: change to \`${spec.workdir}\``, op: 'chdir', path: spec.workdir, resolve: WORKDIR };
  const u = spec.user;
  // The ids change while CAP_SETUID/CAP_SETGID are still held, groups first (setgroups needs the
  // gid change not yet to have dropped them) and the uid last. A uid other than 0 loses the
  // permitted and effective sets in setresuid (no SECBIT_KEEP_CAPS), so it gets none, as in Docker.
  const ids: Op[] = u === null ? [] : [
    { what: `user: set the supplementary groups [${u.groups.join(', ')}]`, op: 'setgroups', gids: u.groups },
    { what: `user: set the gid ${u.gid}`, op: 'setresgid', gid: u.gid },
    { what: `user: set the uid ${u.uid}`, op: 'setresuid', uid: u.uid },
  ];
  const held = u !== null && u.uid !== 0 ? 0n : keep;
  const caps: Op[] = [
    { what: 'drop capabilities from the bounding set', op: 'drop_bounding', caps: known & ~keep },
    ...ids,
    { what: 'set the capabilities', op: 'set_caps', effective: held, permitted: held, inheritable: 0n },
  ];
  if (spec.noNewPrivileges) return [...caps, { what: 'set no_new_privs', op: 'set_no_new_privs' }, chdir, ...seccomp];
  return [...seccomp, ...caps, chdir];
}

/**
 * Builds the launch plan for a validated spec. The order is the contract:
 * 0. PID 1 joins its cgroup (every hierarchy) before anything else, so all it ever does is counted
 *    and limited, and every child it will have starts inside; PID 1 non-dumpable, so that nothing in the container can ptrace it or open its /proc
 *    files while it still holds host fds and full root (execve makes it dumpable again);
 * 1. mounts private, so nothing below ever propagates to the host;
 * 2. the root (host `/` read-only, a directory, or an overlay) on ctx.rootMount;
 * 3. host-side mounts into it (tmpfs /tmp and /run, the user's mounts), while host paths are still reachable,
 *    every target resolved beneath the root;
 * 4. the console opened by its host path; a /dev of the container's own, with the console bound on
 *    /dev/console while its source is still attached; pivot_root; the old root detached;
 * 5. /proc and /sys of the container's own, their kernel knobs masked or read-only (maskOps);
 * 6. hostname, loopback, session and console, then every other fd closed;
 * 7. capabilities, no_new_privs, workdir, the seccomp filter (privilegeOps), exec.
 */
export function buildPlan(spec: ContainerSpec, ctx: LaunchContext): Plan {
  const M = ctx.rootMount;
  // An image's overlay is writable like a directory rootfs: it gets its mount points created, not
  // the host root's tmpfs on /tmp and /run (an image need not even have a /run to mount on).
  const writableRoot = spec.rootfs !== 'host' || hasOverlayRoot(spec);
  const ops: Op[] = [
    ...(ctx.cgroupProcs ?? []).map((path): Op => ({ what: `join the container's cgroup \`${path}\``, op: 'join_cgroup', path })),
    { what: 'make PID 1 non-dumpable until exec', op: 'set_dumpable', dumpable: false },
    { what: 'make all mounts private', op: 'mount', source: null, target: '/', fstype: null, flags: MS_REC | MS_PRIVATE, data: null, resolve: 0 },
    ...rootOps(spec, ctx),
    { what: 'open the new root', op: 'open_root', path: M },
  ];
  if (writableRoot) {
    for (const dir of ['proc', 'dev', 'sys', 'tmp']) {
      ops.push({ what: `create \`/${dir}\` in the rootfs`, op: 'mkdir', path: `/${dir}`, mode: dir === 'tmp' ? 0o1777 : 0o755, resolve: SYSTEM, existOk: true });
    }
  } else {
    ops.push(
      { what: 'mount a private tmpfs on `/tmp`', op: 'mount', source: 'tmpfs', target: '/tmp', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=1777', resolve: SYSTEM },
      { what: 'mount a private tmpfs on `/run`', op: 'mount', source: 'tmpfs', target: '/run', fstype: 'tmpfs', flags: MS_NOSUID | MS_NODEV, data: 'mode=755', resolve: SYSTEM },
    );
  }
  ops.push(...userMountOps(spec, writableRoot, ctx.fileSources ?? new Set()));
  for (const f of ctx.fileBinds ?? []) {
    if (f.create) {
      ops.push(...mountPointOps(`network file \`${f.target}\``, f.target, IN_ROOT).slice(0, -1));
      ops.push({ what: `create the mount point \`${f.target}\``, op: 'mknod', path: f.target, mode: S_IFREG | 0o644, major: 0, minor: 0, resolve: IN_ROOT });
    }
    ops.push({ what: `bind \`${f.source}\` on \`${f.target}\``, op: 'mount', source: f.source, target: f.target, fstype: null, flags: MS_BIND, data: null, resolve: IN_ROOT });
  }

  ops.push(...consoleOpenOps(ctx.console));
  // /dev before pivot_root: binding the console needs its source (the host's devpts) still
  // attached in this mount namespace; once the old root is detached, mount(2) refuses it (EINVAL).
  ops.push(...devOps(ctx.console));

  ops.push(
    { what: `pivot into the new root \`${M}\``, op: 'pivot_root', path: M },
    { what: 'open the new root', op: 'open_root', path: '/' },
    { what: 'mount /proc', op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: null, resolve: SYSTEM },
    { what: 'mount /sys read-only', op: 'mount', source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, data: null, resolve: SYSTEM },
    ...maskOps(),
    ...hideOps(spec, ctx.hidden),
    // The workdir as Docker makes it, once every mount is in place (it may lie in one of them).
    ...mountPointOps('workdir', spec.workdir, WORKDIR),
    { what: `set the hostname \`${spec.hostname}\``, op: 'sethostname', hostname: spec.hostname },
  );
  if (spec.network !== 'host' && spec.network !== 'none' && !ctx.net) throw new Error(`plan: network \`${spec.network}\` needs an attachment (address, bridge) from skiffd`);
  if (ctx.net) ops.push(...networkOps(ctx.net));
  else if (spec.network !== 'host') ops.push({ what: 'bring up the loopback interface', op: 'loopback_up' });
  ops.push(
    ...stdioOps(ctx.console),
    { what: 'close every other fd', op: 'close_from', fd: 3 },
    ...privilegeOps(spec, ctx.lastCap),
  );

  let cloneFlags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  if (spec.network !== 'host') cloneFlags |= CLONE_NEWNET;
  return {
    cloneFlags,
    uidMap: null,
    gidMap: null,
    ops,
    exec: { paths: execCandidates(spec.command[0]!, spec.env), argv: spec.command, envp: spec.env },
  };
}
