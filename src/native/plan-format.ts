// The launch plan: its types and its versioned binary encoding. Pure: no koffi, no I/O.
//
// TypeScript owns the op codes; src/native/launch.c mirrors them (enum op_code) and
// test/native/plan-roundtrip.test.ts checks that the two tables agree.
//
//   header   16 × u32  magic "SKPL", version, clone flags, op count, ops offset,
//                      strings offset, strings length, uid map, gid map,
//                      exec paths (first, count), argv (first, count), envp (first, count), 0
//   ops      count × 8 × u32  code, then seven arguments
//   strings  NUL-terminated strings; a string argument is an offset, NONE for absent;
//            a list is its first string's offset and a count, the strings back to back

import { unreachable } from '../api/unreachable.js';

export const PLAN_MAGIC = 0x4c504b53; // "SKPL"
export const PLAN_VERSION = 1;
export const NONE = 0xffffffff;
const HEADER_WORDS = 16;
const OP_WORDS = 8;

/**
 * Op codes. Work done in parallel takes a range of its own, so that two branches never pick the
 * same number: 1–33 the container's start; 34–39 exec; 40 images; 41–49 and 65–69 skiff-oci;
 * 50–54 cgroups; 55–59 exec speed; 60–64 the exec's pty; 70 and up free. Unused so far:
 * 37–39, 46–59, 63–64, 69. launch.c refuses a code in a gap of its table.
 */
export enum OpCode {
  mount = 1,
  remount_ro = 2,
  mkdir = 3,
  mknod = 4,
  symlink = 5,
  open_root = 6,
  pivot_root = 7,
  sethostname = 8,
  loopback_up = 9,
  open = 10,
  setsid = 11,
  set_ctty = 12,
  dup2 = 13,
  close_from = 14,
  chdir = 15,
  set_no_new_privs = 16,
  setrlimit = 17,
  write_file = 18,
  umount2 = 19,
  fail = 20,
  set_dumpable = 21,
  drop_bounding = 22,
  set_caps = 23,
  check_char = 24,
  mask = 25,
  readonly = 26,
  seccomp = 27,
  netlink = 28,
  host_netlink = 29,
  join_cgroup = 30,
  setgroups = 31,
  setresgid = 32,
  setresuid = 33,
  // 34–39: exec (entering a running container).
  setns = 34,
  setns_pid = 35,
  chroot = 36,
  // 40: images with more layers than mount(2)'s options hold.
  overlay = 40,
  // 41–49: skiff-oci (src/oci)
  wait_start = 41,
  setns_path = 42,
  unshare = 43,
  set_keepcaps = 44,
  dup_fd = 45,
  // 60–64: an exec's pty in the container's own devpts (open_pty, send_fd, fchown).
  open_pty = 60,
  send_fd = 61,
  fchown = 62,
  // 65–69: skiff-oci, continued (more groups, a pid namespace by path, its console in the container's devpts).
  setgroups_list = 65,
  setns_pid_path = 66,
  open_pty_at = 67,
  send_fd_to = 68,
}

/** Flags of the mask and readonly operations (MASK_* in launch.c). */
export const MASK_OPTIONAL = 0x1;
export const MASK_DIRECTORY = 0x2;

/** Flags of the mkdir operation (MKDIR_* in launch.c): encoded from existOk and bestEffort. */
export const MKDIR_EXIST_OK = 0x1;
export const MKDIR_BEST_EFFORT = 0x2;

// The kernel's flags an operation carries, re-exported from src/sys/constants.ts (their one
// definition) so that a plan is written with one import.
export {
  CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS,
  MNT_DETACH, MOUNT_ATTR_NODEV, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT,
  RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV, S_IFCHR, S_IFREG,
} from '../sys/constants.js';

/**
 * One operation. `resolve` = 0 means the path is used as written; otherwise it is
 * resolved under the current root fd (see open_root) with those RESOLVE_* flags.
 * `what` is not encoded: it is the human description an error message quotes.
 */
export type Op = { what: string } & (
  | { op: 'mount'; source: string | null; target: string; fstype: string | null; flags: number; data: string | null; resolve: number; sourceRegister?: number }
  | { op: 'remount_ro'; target: string; resolve: number; extraFlags: number }
  /**
   * bestEffort: a mount point for the operation after it; whatever stops its creation (a symlink
   * out of the root, a read-only root) is left for that operation to report with its own context.
   */
  | { op: 'mkdir'; path: string; mode: number; resolve: number; existOk: boolean; bestEffort?: boolean }
  | { op: 'mknod'; path: string; mode: number; major: number; minor: number; resolve: number }
  | { op: 'symlink'; target: string; linkpath: string; resolve: number }
  | { op: 'open_root'; path: string }
  | { op: 'pivot_root'; path: string }
  | { op: 'sethostname'; hostname: string }
  | { op: 'loopback_up' }
  | { op: 'open'; path: string; flags: number; register: number; mode?: number }
  | { op: 'setsid' }
  | { op: 'set_ctty'; register: number }
  | { op: 'dup2'; register: number; fd: number }
  | { op: 'close_from'; fd: number }
  /** resolve 0: chdir(2) as is; otherwise openat2 from `/` with these RESOLVE_* flags, then fchdir */
  | { op: 'chdir'; path: string; resolve: number }
  | { op: 'set_no_new_privs' }
  | { op: 'setrlimit'; resource: number; soft: bigint; hard: bigint }
  | { op: 'write_file'; path: string; data: string; resolve: number }
  | { op: 'umount2'; path: string; flags: number }
  | { op: 'fail'; errno: number }
  | { op: 'set_dumpable'; dumpable: boolean }
  /** PR_CAPBSET_DROP for every capability whose bit is set */
  | { op: 'drop_bounding'; caps: bigint }
  /** capset(2) of the three sets, then the ambient set cleared */
  | { op: 'set_caps'; effective: bigint; permitted: bigint; inheritable: bigint }
  /** fails (ENODEV) unless the register's fd is the character device major:minor */
  | { op: 'check_char'; register: number; major: number; minor: number }
  /** hides a path: a file under the register's file (bind), a directory (MASK_DIRECTORY) under a tmpfs */
  | { op: 'mask'; path: string; resolve: number; flags: number; register: number; tmpfsFlags: number; tmpfsData: string }
  /** makes a path a read-only mount of its own */
  | { op: 'readonly'; path: string; resolve: number; flags: number }
  /** seccomp(SECCOMP_SET_MODE_FILTER, flags) with a struct sock_filter[] (carried as hex in the string area) */
  | { op: 'seccomp'; program: Buffer; flags: number }
  /** PID 1 sends one rtnetlink request (built by src/net/rtnetlink.ts, asking for an ack) and checks the ack */
  | { op: 'netlink'; message: Buffer }
  /**
   * child1 sends one rtnetlink request from the launcher's namespaces once PID 1 exists and
   * before PID 1 runs its first operation, with PID 1's pid (native u32) written at pidOffset
   */
  | { op: 'host_netlink'; message: Buffer; pidOffset: number | null }
  /** writes "0" to a cgroup.procs file (a host path): the process joins that cgroup */
  | { op: 'join_cgroup'; path: string }
  /** setgroups(2): at most 6 supplementary groups */
  | { op: 'setgroups'; gids: number[] }
  /** setresgid(2) / setresuid(2) with one id for real, effective and saved */
  | { op: 'setresgid'; gid: number }
  | { op: 'setresuid'; uid: number }
  /** setns(fd, nstype): fd is a pidfd the caller opened (inherited, not a register) */
  | { op: 'setns'; fd: number; nstype: number }
  /** child1 joins the pid namespace of the pidfd `fd` before it clones the process that runs the plan */
  | { op: 'setns_pid'; fd: number }
  /** fchdir to the directory fd the caller opened, then chroot(".") */
  | { op: 'chroot'; fd: number }
  /**
   * an overlay through the new mount API (fsopen, one fsconfig "lowerdir+" per layer, fsmount,
   * move_mount): any number of layers up to overlayfs's 500, where mount(2)'s options hold one
   * page. `target` is a host path; `attrs` are MOUNT_ATTR_* flags.
   */
  | { op: 'overlay'; target: string; lowerdirs: string[]; upperdir: string; workdir: string; attrs: number }
  /**
   * skiff-oci's `create`: the exec paths checked, then "created" (the launch returns, PID 1 lives
   * on with memory of its own), then a read of the start fifo (open read-write on `fd`) until `start` writes
   */
  | { op: 'wait_start'; fd: number }
  /** setns(2) into the namespace file at `path` (a host path, so before pivot_root); nstype CLONE_NEW* */
  | { op: 'setns_path'; path: string; nstype: number }
  /** unshare(2) by PID 1 itself: a cgroup namespace made once PID 1 is in its cgroup */
  | { op: 'unshare'; flags: number }
  /** PR_SET_KEEPCAPS: the uid change that follows keeps the permitted set */
  | { op: 'set_keepcaps' }
  /** dup2(2) of an fd PID 1 inherited from its launcher (not a register) onto `to` */
  | { op: 'dup_fd'; from: number; to: number }
  /**
   * a pty in the current root's devpts (`/dev/pts/ptmx`, else `/dev/ptmx`, which must be the
   * character device 5:2), unlocked: its master into register `master`, its slave (opened through
   * the master, TIOCGPTPEER, never by path) into `slave`
   */
  | { op: 'open_pty'; master: number; slave: number }
  /** sends the register's fd (SCM_RIGHTS, one byte) on `socket`, an fd inherited from the launcher */
  | { op: 'send_fd'; socket: number; register: number }
  /** fchown(2) of the register's fd: an exec's pty slave given to its user, as runc does */
  | { op: 'fchown'; register: number; uid: number; gid: number }
  /** setgroups(2) with up to MAX_GROUPS groups (carried as a string), where setgroups holds six */
  | { op: 'setgroups_list'; gids: number[] }
  /** child1 joins the pid namespace at `path` (a host path) before it clones PID 1: setns_pid by path */
  | { op: 'setns_pid_path'; path: string }
  /**
   * a pty of the container's own devpts: its ptmx at `path` (beneath the root, `resolve`), unlocked,
   * sized (rows and cols 0: left as it is), the master in `master`, its peer (TIOCGPTPEER) in `peer`
   */
  | { op: 'open_pty_at'; path: string; resolve: number; master: number; peer: number; rows: number; cols: number }
  /** the pty master in `register` to the unix socket at `path` (a host path), SCM_RIGHTS, named /dev/pts/N */
  | { op: 'send_fd_to'; path: string; register: number }
);

export interface ExecSpec {
  /** candidate paths, tried in order like execvp; ENOENT/ENOTDIR moves on */
  paths: string[];
  argv: string[];
  envp: string[];
}

export interface Plan {
  cloneFlags: number;
  uidMap: string | null;
  gidMap: string | null;
  ops: Op[];
  exec: ExecSpec;
}

export const REGISTERS = 8;
/** overlayfs's OVL_MAX_STACK: the most lower layers one overlay takes (MAX_LOWERDIRS in launch.c) */
export const MAX_LOWERDIRS = 500;

/** The most groups setgroups_list takes (MAX_GROUPS in launch.c) */
export const MAX_GROUPS = 4096;

/**
 * The string area, built as JavaScript strings and written into the plan's buffer once: a
 * Buffer per string (a typed array each, about a hundred per start) was most of an encoding's
 * time and garbage. Offsets count UTF-8 bytes.
 */
class StringArea {
  private readonly parts: string[] = [];
  /** the bytes so far, each string's NUL included */
  length = 0;
  private readonly seen = new Map<string, number>();

  add(s: string | null): number {
    if (s === null) return NONE;
    const known = this.seen.get(s);
    if (known !== undefined) return known;
    const at = this.push(s);
    this.seen.set(s, at);
    return at;
  }

  /** A list is stored contiguously, so it is never deduplicated against single strings. */
  addList(items: string[]): [number, number] {
    if (items.length === 0) return [NONE, 0];
    const first = this.length;
    for (const s of items) this.push(s);
    return [first, items.length];
  }

  private push(s: string): number {
    if (s.includes('\0')) throw new PlanEncodeError(`string contains a NUL byte: ${JSON.stringify(s)}`);
    const at = this.length;
    this.parts.push(s);
    this.length += Buffer.byteLength(s, 'utf8') + 1;
    return at;
  }

  /** Writes the area at `offset` of `buf` (which has room for `length` bytes, zero-filled). */
  writeTo(buf: Buffer, offset: number): void {
    if (this.parts.length === 0) return; // the one empty string: the zero byte already there
    const written = buf.write(`${this.parts.join('\0')}\0`, offset, 'utf8');
    if (written !== this.length) throw new PlanEncodeError(`string area of ${written} bytes, ${this.length} expected`);
  }

  /** The area's size in the plan: an empty area is one empty string (launch.c wants a NUL-terminated area). */
  size(): number {
    return this.length === 0 ? 1 : this.length;
  }
}

export class PlanEncodeError extends Error {
  constructor(message: string) {
    super(`launch plan: ${message}`);
    this.name = 'PlanEncodeError';
  }
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new PlanEncodeError(`${what} is not a u32: ${n}`);
  return n;
}

function register(r: number): number {
  if (!Number.isInteger(r) || r < 0 || r >= REGISTERS) throw new PlanEncodeError(`register ${r} out of range 0..${REGISTERS - 1}`);
  return r;
}

function splitU64(v: bigint, what = 'rlimit'): [number, number] {
  if (v < 0n || v > 0xffffffffffffffffn) throw new PlanEncodeError(`${what} ${v} out of range`);
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

/** A netlink message as the string area carries it; its header's length must be its own. */
function netlinkHex(message: Buffer): string {
  if (message.length < 16 || message.length > 65536 || message.readUInt32LE(0) !== message.length) {
    throw new PlanEncodeError(`netlink message of ${message.length} bytes does not carry its own length`);
  }
  return message.toString('hex');
}

/** The seven argument words of an operation, in the order launch.c reads them. */
function opArgs(op: Op, s: StringArea): number[] {
  switch (op.op) {
    case 'mount':
      return [s.add(op.source), s.add(op.target), s.add(op.fstype), u32(op.flags, 'mount flags'), s.add(op.data), u32(op.resolve, 'resolve'),
        op.sourceRegister === undefined ? NONE : register(op.sourceRegister)];
    case 'remount_ro':
      return [s.add(op.target), u32(op.resolve, 'resolve'), u32(op.extraFlags, 'flags')];
    case 'mkdir':
      return [s.add(op.path), u32(op.mode, 'mode'), u32(op.resolve, 'resolve'), (op.existOk ? MKDIR_EXIST_OK : 0) | (op.bestEffort ? MKDIR_BEST_EFFORT : 0)];
    case 'mknod':
      return [s.add(op.path), u32(op.mode, 'mode'), u32(op.major, 'major'), u32(op.minor, 'minor'), u32(op.resolve, 'resolve')];
    case 'symlink':
      return [s.add(op.target), s.add(op.linkpath), u32(op.resolve, 'resolve')];
    case 'open_root':
      return [s.add(op.path)];
    case 'pivot_root':
      return [s.add(op.path)];
    case 'sethostname':
      return [s.add(op.hostname)];
    case 'loopback_up':
    case 'setsid':
    case 'set_no_new_privs':
      return [];
    case 'open':
      return [s.add(op.path), u32(op.flags, 'open flags'), register(op.register), u32(op.mode ?? 0, 'mode')];
    case 'set_ctty':
      return [register(op.register)];
    case 'dup2':
      return [register(op.register), u32(op.fd, 'fd')];
    case 'close_from':
      return [u32(op.fd, 'fd')];
    case 'chdir':
      return [s.add(op.path), u32(op.resolve, 'resolve')];
    case 'setrlimit': {
      const [sl, sh] = splitU64(op.soft);
      const [hl, hh] = splitU64(op.hard);
      return [u32(op.resource, 'resource'), sl, sh, hl, hh];
    }
    case 'write_file':
      return [s.add(op.path), s.add(op.data), u32(op.resolve, 'resolve')];
    case 'umount2':
      return [s.add(op.path), u32(op.flags, 'umount flags')];
    case 'fail':
      return [u32(op.errno, 'errno')];
    case 'set_dumpable':
      return [op.dumpable ? 1 : 0];
    case 'drop_bounding':
      return splitU64(op.caps, 'capability mask');
    case 'set_caps':
      return [...splitU64(op.effective, 'capability mask'), ...splitU64(op.permitted, 'capability mask'), ...splitU64(op.inheritable, 'capability mask')];
    case 'check_char':
      return [register(op.register), u32(op.major, 'major'), u32(op.minor, 'minor')];
    case 'mask':
      return [s.add(op.path), u32(op.resolve, 'resolve'), u32(op.flags, 'mask flags'), register(op.register), u32(op.tmpfsFlags, 'mount flags'), s.add(op.tmpfsData)];
    case 'readonly':
      return [s.add(op.path), u32(op.resolve, 'resolve'), u32(op.flags, 'mask flags')];
    case 'seccomp':
      if (op.program.length === 0 || op.program.length % 8 !== 0 || op.program.length / 8 > 4096) {
        throw new PlanEncodeError(`seccomp program of ${op.program.length} bytes is not 1 to 4096 instructions of 8 bytes`);
      }
      return [s.add(op.program.toString('hex')), op.program.length / 8, u32(op.flags, 'seccomp flags')];
    case 'netlink':
      return [s.add(netlinkHex(op.message)), op.message.length];
    case 'host_netlink':
      if (op.pidOffset !== null && (op.pidOffset < 16 || op.pidOffset > op.message.length - 4)) {
        throw new PlanEncodeError(`pid offset ${op.pidOffset} outside a netlink message of ${op.message.length} bytes`);
      }
      return [s.add(netlinkHex(op.message)), op.message.length, op.pidOffset === null ? NONE : op.pidOffset];
    case 'join_cgroup':
      return [s.add(op.path)];
    case 'setgroups':
      if (op.gids.length > 6) throw new PlanEncodeError(`setgroups of ${op.gids.length} groups: at most 6 fit in an operation`);
      return [op.gids.length, ...op.gids.map((g) => u32(g, 'gid'))];
    case 'setresgid':
      return [u32(op.gid, 'gid')];
    case 'setresuid':
      return [u32(op.uid, 'uid')];
    case 'setns':
      return [u32(op.fd, 'fd'), u32(op.nstype, 'namespace flags')];
    case 'setns_pid':
    case 'chroot':
      return [u32(op.fd, 'fd')];
    case 'overlay': {
      if (op.lowerdirs.length === 0 || op.lowerdirs.length > MAX_LOWERDIRS) throw new PlanEncodeError(`overlay of ${op.lowerdirs.length} lowerdirs: 1 to ${MAX_LOWERDIRS} fit`);
      const [first, count] = s.addList(op.lowerdirs);
      return [s.add(op.target), first, count, s.add(op.upperdir), s.add(op.workdir), u32(op.attrs, 'mount attributes')];
    }
    case 'wait_start':
      return [u32(op.fd, 'fd')];
    case 'setns_path':
      return [s.add(op.path), u32(op.nstype, 'namespace type')];
    case 'unshare':
      return [u32(op.flags, 'unshare flags')];
    case 'set_keepcaps':
      return [];
    case 'dup_fd':
      return [u32(op.from, 'fd'), u32(op.to, 'fd')];
    case 'open_pty':
      return [register(op.master), register(op.slave)];
    case 'send_fd':
      return [u32(op.socket, 'fd'), register(op.register)];
    case 'fchown':
      return [register(op.register), u32(op.uid, 'uid'), u32(op.gid, 'gid')];
    case 'setgroups_list':
      if (op.gids.length > MAX_GROUPS) throw new PlanEncodeError(`setgroups_list of ${op.gids.length} groups: at most ${MAX_GROUPS}`);
      return [s.add(op.gids.map((g) => u32(g, 'gid')).join(','))];
    case 'setns_pid_path':
      return [s.add(op.path)];
    case 'open_pty_at':
      return [s.add(op.path), u32(op.resolve, 'resolve'), register(op.master), register(op.peer), u32(op.rows, 'rows'), u32(op.cols, 'cols')];
    case 'send_fd_to':
      return [s.add(op.path), register(op.register)];
    default:
      return unreachable(op, 'launch plan: arguments of an operation');
  }
}

/** Encodes a plan for launch.c. Throws PlanEncodeError on values C could not represent. */
export function encodePlan(plan: Plan): Buffer {
  if (plan.exec.argv.length === 0) throw new PlanEncodeError('exec needs at least one argument');
  if (plan.exec.paths.length === 0) throw new PlanEncodeError('exec needs at least one path');
  const strings = new StringArea();
  // Every value opArgs returns is checked to fit a u32 there (u32, register, splitU64).
  const words = new Uint32Array(plan.ops.length * OP_WORDS);
  for (let i = 0; i < plan.ops.length; i++) {
    const op = plan.ops[i]!;
    // Checked before the switch in opArgs: an op the types do not know (a cast, a peer built
    // from other sources) is a plan error that names it, as launch.c's "unknown operation N".
    const code = Object.hasOwn(OpCode, op.op) ? OpCode[op.op] : undefined;
    if (typeof code !== 'number') throw new PlanEncodeError(`unknown operation ${JSON.stringify((op as { op: unknown }).op)} at index ${i}`);
    words[i * OP_WORDS] = code;
    const args = opArgs(op, strings);
    for (let a = 0; a < args.length && a < OP_WORDS - 1; a++) words[i * OP_WORDS + 1 + a] = args[a]!;
  }
  const uid = strings.add(plan.uidMap);
  const gid = strings.add(plan.gidMap);
  const [pathsAt, pathsN] = strings.addList(plan.exec.paths);
  const [argvAt, argvN] = strings.addList(plan.exec.argv);
  const [envAt, envN] = strings.addList(plan.exec.envp);

  // One buffer, header, operations and strings, written in place.
  const opsOffset = HEADER_WORDS * 4;
  const stringsOffset = opsOffset + words.length * 4;
  const area = strings.size();
  const buf = Buffer.alloc(stringsOffset + area);
  [PLAN_MAGIC, PLAN_VERSION, u32(plan.cloneFlags, 'clone flags'), plan.ops.length, opsOffset, stringsOffset, area,
    uid, gid, pathsAt, pathsN, argvAt, argvN, envAt, envN, 0].forEach((w, i) => buf.writeUInt32LE(w >>> 0, i * 4));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  for (let i = 0; i < words.length; i++) view.setUint32(opsOffset + i * 4, words[i]!, true);
  strings.writeTo(buf, stringsOffset);
  return buf;
}
