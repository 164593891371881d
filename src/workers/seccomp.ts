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
import { EPERM, ENOSYS } from '../sys/errno.js';
import { CLONE_NEWUSER, TIOCLINUX, TIOCSTI } from '../sys/constants.js';
import { SYSCALLS_X86_64 } from '../spec/syscalls-x86_64.js';
import {
  AUDIT_ARCH_X86_64, BPF_JGE_K, BPF_JSET_K, OFF_ARCH, OFF_NR, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  X32_SYSCALL_BIT, argLo, assemble, jeq, ld, ret, type Asm, type BpfInsn,
} from './bpf.js';

/** Denied outright, whatever the arguments. */
export const DENIED: readonly string[] = [
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'bpf', 'perf_event_open',
  'keyctl', 'add_key', 'request_key', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp',
  'mount', 'umount2', 'pivot_root', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick',
  'reboot', 'swapon', 'swapoff', 'syslog', 'acct', 'uselib', 'open_by_handle_at', 'userfaultfd', 'iopl', 'ioperm',
];

/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and the query. */
export const PERSONALITY_ALLOWED = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** A syscall's x86_64 number, from the table generated from the kernel's headers. */
function nr(name: string): number {
  const n = SYSCALLS_X86_64[name];
  if (n === undefined) throw new Error(`seccomp: syscall ${name} is not in the x86_64 table (src/spec/syscalls-x86_64.ts)`);
  return n;
}

/** Where the filter sends a syscall it names; every other x86_64 syscall is allowed. */
type Verdict = 'deny' | 'enosys' | 'newuser' | 'personality' | 'ioctl';

/** The syscalls the filter names, by number, ascending. */
function decided(): [number, Verdict][] {
  const entries: [number, Verdict][] = [
    ...DENIED.map((name): [number, Verdict] => [nr(name), 'deny']),
    [nr('clone3'), 'enosys'],
    [nr('clone'), 'newuser'],
    [nr('unshare'), 'newuser'],
    [nr('personality'), 'personality'],
    [nr('ioctl'), 'ioctl'],
  ];
  return entries.sort((a, b) => a[0] - b[0]);
}

/** Numbers a leaf of the search compares one by one: below this, a `jge` costs more than it saves. */
const LEAF = 3;

/**
 * A balanced search over the named syscalls: each `jge` halves the range, a leaf compares its
 * few numbers and allows the rest. Why not a list of `jeq`s: the kernel runs the filter once
 * per syscall number when it loads it (the cache of always-allowed syscalls, seccomp_cache_prepare),
 * so every container's PID 1 pays the filter's path length some 450 times; a list makes an
 * syscall's path 43 instructions (the median), the search 11 (figures: docs/architecture.md).
 */
function search(entries: readonly [number, Verdict][], label: string): Asm[] {
  if (entries.length <= LEAF) return [...entries.map(([n, verdict]) => jeq(n, verdict)), ret(SECCOMP_RET_ALLOW)];
  const mid = entries.length >> 1;
  const upper = `${label}+`;
  return [
    { code: BPF_JGE_K, k: entries[mid]![0], jt: upper, jf: 0 },
    ...search(entries.slice(0, mid), `${label}-`),
    { label: upper },
    ...search(entries.slice(mid), upper),
  ];
}

/** The default filter as classic BPF instructions. */
export function defaultSeccompFilter(): BpfInsn[] {
  const prog: Asm[] = [
    ld(OFF_ARCH),
    jeq(AUDIT_ARCH_X86_64, 0, 'kill'),
    ld(OFF_NR),
    { code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: 'kill', jf: 0 },
    ...search(decided(), 'nr'),
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
