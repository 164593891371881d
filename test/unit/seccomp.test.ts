// The default seccomp filter, run through a classic BPF interpreter: what it answers for each
// syscall and argument that matters, and that its encoding is struct sock_filter[].
import { expect } from 'chai';
import { CLONE_NEWUSER, TIOCLINUX, TIOCSTI } from '../../src/sys/constants.js';
import * as errno from '../../src/sys/errno.js';
import { SYSCALLS_X86_64 } from '../../src/spec/syscalls-x86_64.js';
import {
  AUDIT_ARCH_X86_64, BPF_RET_K, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, X32_SYSCALL_BIT, encodeFilter, runFilter,
} from '../../src/workers/bpf.js';
import { DENIED, defaultSeccompFilter } from '../../src/workers/seccomp.js';

/** An x86_64 syscall number by name, from the generated table (a name missing from it fails the test). */
function nr(name: string): number {
  const n = SYSCALLS_X86_64[name];
  if (n === undefined) throw new Error(`no syscall ${name} in the x86_64 table`);
  return n;
}

const AUDIT_ARCH_I386 = 0x40000003;
const EPERM = SECCOMP_RET_ERRNO | errno.EPERM;
const ENOSYS = SECCOMP_RET_ERRNO | errno.ENOSYS;
const NR_read = nr('read');
const NR_write = nr('write');
const NR_execve = nr('execve');
const NR_setns = nr('setns');

describe('seccomp: the default filter', () => {
  const f = defaultSeccompFilter();
  const call = (nr: number, ...args: bigint[]): number => runFilter(f, { nr, arch: AUDIT_ARCH_X86_64, args });

  it('allows ordinary syscalls', () => {
    for (const nr of [NR_read, NR_write, NR_execve, NR_setns]) expect(call(nr), `nr ${nr}`).to.equal(SECCOMP_RET_ALLOW);
  });

  it('denies kexec, modules, bpf, perf, keys, ptrace, mount, reboot, swap with EPERM', () => {
    expect(DENIED).to.include.members(['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'bpf',
      'perf_event_open', 'keyctl', 'add_key', 'request_key', 'ptrace', 'mount', 'umount2', 'reboot', 'swapon', 'swapoff']);
    for (const name of DENIED) expect(call(nr(name)), name).to.equal(EPERM);
  });

  it('kills anything but x86_64: i386 numbers through int 0x80, and the x32 ABI', () => {
    expect(runFilter(f, { nr: NR_read, arch: AUDIT_ARCH_I386 })).to.equal(SECCOMP_RET_KILL_PROCESS);
    expect(runFilter(f, { nr: 26 /* i386 ptrace */, arch: AUDIT_ARCH_I386 })).to.equal(SECCOMP_RET_KILL_PROCESS);
    expect(call(X32_SYSCALL_BIT | NR_read)).to.equal(SECCOMP_RET_KILL_PROCESS);
    expect(call(X32_SYSCALL_BIT | nr('ptrace'))).to.equal(SECCOMP_RET_KILL_PROCESS);
  });

  it('denies a new user namespace through clone or unshare, allows the other flags; clone3 gets ENOSYS', () => {
    expect(call(nr('unshare'), BigInt(CLONE_NEWUSER))).to.equal(EPERM);
    expect(call(nr('unshare'), BigInt(CLONE_NEWUSER | 0x20000))).to.equal(EPERM);
    expect(call(nr('unshare'), 0x20000n)).to.equal(SECCOMP_RET_ALLOW);
    expect(call(nr('clone'), BigInt(CLONE_NEWUSER | 17))).to.equal(EPERM);
    expect(call(nr('clone'), 0x1200011n)).to.equal(SECCOMP_RET_ALLOW);
    expect(call(nr('clone3'))).to.equal(ENOSYS);
  });

  it('allows only the harmless personalities, judging the low word as the kernel does', () => {
    for (const p of [0x0n, 0x8n, 0x20000n, 0x20008n, 0xffffffffn, (1n << 32n) | 0x8n]) expect(call(nr('personality'), p), `0x${p.toString(16)}`).to.equal(SECCOMP_RET_ALLOW);
    for (const p of [0x0040000n /* ADDR_NO_RANDOMIZE */, 0x0400000n /* READ_IMPLIES_EXEC */, 0x1n]) expect(call(nr('personality'), p), `0x${p.toString(16)}`).to.equal(EPERM);
  });

  it('denies TIOCSTI and TIOCLINUX whatever the high word of the request, allows other ioctls', () => {
    expect(call(nr('ioctl'), 0n, BigInt(TIOCSTI))).to.equal(EPERM);
    expect(call(nr('ioctl'), 0n, (1n << 32n) | BigInt(TIOCSTI))).to.equal(EPERM);
    expect(call(nr('ioctl'), 0n, BigInt(TIOCLINUX))).to.equal(EPERM);
    expect(call(nr('ioctl'), 0n, 0x5413n /* TIOCGWINSZ */)).to.equal(SECCOMP_RET_ALLOW);
  });

  it('answers every syscall number as its lists say: the named ones as named, all others allowed', () => {
    const named = new Map<number, number>(DENIED.map((name) => [nr(name), EPERM]));
    named.set(nr('clone3'), ENOSYS);
    const numbers = Object.values(SYSCALLS_X86_64);
    const last = Math.max(...numbers);
    // Every number up to past the table's end, with arguments that no argument check refuses.
    for (let n = 0; n <= last + 64; n++) {
      const expected = named.get(n) ?? SECCOMP_RET_ALLOW;
      expect(call(n, 0n, 0n), `nr ${n}`).to.equal(expected);
    }
  });

  it('decides an allowed syscall in a few instructions: the kernel runs the filter for every number when it loads it', () => {
    const trace = { steps: 0 };
    let longest = 0;
    for (const n of Object.values(SYSCALLS_X86_64)) {
      runFilter(f, { nr: n, arch: AUDIT_ARCH_X86_64, args: [0n, 0n] }, trace);
      longest = Math.max(longest, trace.steps);
    }
    // A list of one comparison per named syscall takes more than DENIED.length steps for most numbers.
    expect(longest).to.be.lessThan(DENIED.length / 2);
  });

  it('encodes as struct sock_filter[]: 8 bytes each, little-endian, ending in a return', () => {
    const b = encodeFilter(f);
    expect(b.length).to.equal(f.length * 8);
    expect(b.readUInt16LE(0)).to.equal(0x20);
    expect(b.readUInt32LE(4)).to.equal(4); // ld [arch]
    expect(b.readUInt32LE(12)).to.equal(AUDIT_ARCH_X86_64);
    expect(f[f.length - 1]).to.deep.equal({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS });
    expect(f.length).to.be.lessThan(256);
  });
});
