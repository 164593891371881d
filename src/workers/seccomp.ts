// The default seccomp filter, compiled to classic BPF here (policy), loaded by launch.c's
// `seccomp` operation as the last step before execve (mechanism). Pure: no I/O.
//
// In the spirit of Docker's default profile, as a deny list (everything else is allowed):
//   - architecture confusion: anything but x86_64 (i386 through int 0x80), and the x32 ABI
//     (x86_64 syscall numbers with bit 30 set), kills the process: a filter that only checks
//     x86_64 numbers would otherwise let i386 numbers through unexamined;
//   - kernel-level reach: kexec, modules, bpf, perf_event_open, the keyring, ptrace and its
//     cousins (process_vm_*, kcmp), mount and the new mount API, reboot, swap, syslog, acct,
//     open_by_handle_at ("shocker"), userfaultfd, iopl/ioperm → EPERM;
//   - personality other than the harmless values Docker allows → EPERM;
//   - clone and unshare with CLONE_NEWUSER (a user namespace needs no capability) → EPERM;
//     clone3, whose flags live in memory BPF cannot read → ENOSYS, so libc falls back to clone;
//   - ioctl TIOCSTI (push bytes into a terminal's input: the console, or a terminal an fd
//     leaked from) and TIOCLINUX → EPERM.
// Capabilities added in the spec do not lift these; `seccomp: unconfined` does.
import { errnoNumber } from '../sys/errno.js';

/** struct sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export interface BpfInsn { code: number; jt: number; jf: number; k: number }

// classic BPF opcodes (linux/filter.h)
export const BPF_LD_W_ABS = 0x20;
export const BPF_JEQ_K = 0x15;
export const BPF_JGE_K = 0x35;
export const BPF_JSET_K = 0x45;
export const BPF_RET_K = 0x06;

// seccomp return values (linux/seccomp.h)
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const X32_SYSCALL_BIT = 0x40000000;
const EPERM = errnoNumber('EPERM');
const ENOSYS = errnoNumber('ENOSYS');

// struct seccomp_data offsets: nr, arch, instruction pointer, then six u64 args (low word first)
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLo = (i: number): number => 16 + 8 * i;

export const CLONE_NEWUSER = 0x10000000;
export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;

/** x86_64 syscall numbers the filter names. */
export const NR = {
  ioctl: 16, ptrace: 101, syslog: 103, uselib: 134, personality: 135, clone: 56, pivot_root: 155, acct: 163,
  mount: 165, umount2: 166, swapon: 167, swapoff: 168, reboot: 169, iopl: 172, ioperm: 173, init_module: 175,
  delete_module: 176, kexec_load: 246, add_key: 248, request_key: 249, keyctl: 250, unshare: 272, perf_event_open: 298,
  open_by_handle_at: 304, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312, finit_module: 313,
  kexec_file_load: 320, bpf: 321, userfaultfd: 323, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431,
  fsmount: 432, fspick: 433, clone3: 435,
} as const;

/** Denied outright, whatever the arguments. */
export const DENIED: readonly (keyof typeof NR)[] = [
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'bpf', 'perf_event_open',
  'keyctl', 'add_key', 'request_key', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp',
  'mount', 'umount2', 'pivot_root', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
  'reboot', 'swapon', 'swapoff', 'syslog', 'acct', 'uselib', 'open_by_handle_at', 'userfaultfd', 'iopl', 'ioperm',
];

/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and the query. */
export const PERSONALITY_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

type Jump = number | string;
type Asm = { code: number; k: number; jt?: Jump; jf?: Jump } | { label: string };

/** Resolves labels to the relative offsets classic BPF jumps take (0..255 instructions forward). */
function assemble(prog: Asm[]): BpfInsn[] {
  const at = new Map<string, number>();
  let n = 0;
  for (const a of prog) {
    if ('label' in a) at.set(a.label, n);
    else n++;
  }
  const out: BpfInsn[] = [];
  for (const a of prog) {
    if ('label' in a) continue;
    const pc = out.length;
    const rel = (j: Jump | undefined): number => {
      if (j === undefined) return 0;
      if (typeof j === 'number') return j;
      const target = at.get(j);
      if (target === undefined) throw new Error(`seccomp: unknown label ${j}`);
      const off = target - pc - 1;
      if (off < 0 || off > 255) throw new Error(`seccomp: jump to ${j} out of range (${off})`);
      return off;
    };
    out.push({ code: a.code, k: a.k >>> 0, jt: rel(a.jt), jf: rel(a.jf) });
  }
  return out;
}

/** The default filter as classic BPF instructions. */
export function defaultSeccompFilter(): BpfInsn[] {
  const ld = (off: number): Asm => ({ code: BPF_LD_W_ABS, k: off });
  const jeq = (k: number, jt: Jump, jf: Jump = 0): Asm => ({ code: BPF_JEQ_K, k, jt, jf });
  const ret = (k: number): Asm => ({ code: BPF_RET_K, k });
  const prog: Asm[] = [
    ld(OFF_ARCH),
    jeq(AUDIT_ARCH_X86_64, 0, 'kill'),
    ld(OFF_NR),
    { code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: 'kill', jf: 0 },
    ...DENIED.map((name) => jeq(NR[name], 'deny')),
    jeq(NR.clone3, 'enosys'),
    jeq(NR.clone, 'newuser'),
    jeq(NR.unshare, 'newuser'),
    jeq(NR.personality, 'personality'),
    jeq(NR.ioctl, 'ioctl'),
    ret(SECCOMP_RET_ALLOW),
    // clone(flags, …) and unshare(flags): x86_64 passes the flags first
    { label: 'newuser' },
    ld(argLo(0)),
    { code: BPF_JSET_K, k: CLONE_NEWUSER, jt: 'deny', jf: 'allow' },
    // personality(unsigned int): the kernel reads the low word only, and so does the filter
    { label: 'personality' },
    ld(argLo(0)),
    ...PERSONALITY_ALLOWED.map((v) => jeq(v, 'allow')),
    ret(SECCOMP_RET_ERRNO | EPERM),
    // ioctl(fd, unsigned int cmd, …): the kernel truncates cmd to 32 bits, so only the low word
    // may decide (checking the high word too would let TIOCSTI | 1 << 32 through)
    { label: 'ioctl' },
    ld(argLo(1)),
    jeq(TIOCSTI, 'deny'),
    jeq(TIOCLINUX, 'deny'),
    { label: 'allow' },
    ret(SECCOMP_RET_ALLOW),
    { label: 'deny' },
    ret(SECCOMP_RET_ERRNO | EPERM),
    { label: 'enosys' },
    ret(SECCOMP_RET_ERRNO | ENOSYS),
    { label: 'kill' },
    ret(SECCOMP_RET_KILL_PROCESS),
  ];
  return assemble(prog);
}

/** struct sock_filter[] as bytes (little-endian), for the plan's seccomp operation. */
export function encodeFilter(insns: readonly BpfInsn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach((f, i) => {
    b.writeUInt16LE(f.code, i * 8);
    b.writeUInt8(f.jt, i * 8 + 2);
    b.writeUInt8(f.jf, i * 8 + 3);
    b.writeUInt32LE(f.k >>> 0, i * 8 + 4);
  });
  return b;
}

/** What the filter answers for one syscall: a classic BPF interpreter, enough for this filter's opcodes (tests). */
export function runFilter(insns: readonly BpfInsn[], data: { nr: number; arch: number; args?: bigint[] }): number {
  const mem = Buffer.alloc(64);
  mem.writeInt32LE(data.nr, OFF_NR);
  mem.writeUInt32LE(data.arch, OFF_ARCH);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let acc = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const f = insns[pc]!;
    switch (f.code) {
      case BPF_LD_W_ABS: acc = mem.readUInt32LE(f.k); break;
      case BPF_JEQ_K: pc += acc === f.k ? f.jt : f.jf; break;
      case BPF_JGE_K: pc += acc >= f.k ? f.jt : f.jf; break;
      case BPF_JSET_K: pc += (acc & f.k) >>> 0 !== 0 ? f.jt : f.jf; break;
      case BPF_RET_K: return f.k;
      default: throw new Error(`runFilter: opcode ${f.code} not supported`);
    }
  }
  throw new Error('runFilter: fell off the end of the program');
}
