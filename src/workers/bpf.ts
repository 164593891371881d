// Classic BPF for seccomp: the instructions both filter builders emit (the default filter,
// seccomp.ts, and compiled profiles, seccomp-compile.ts), a small assembler that resolves
// labels, the encoding launch.c loads, and an interpreter the tests run filters through.
// Pure: no I/O.
//
// Classic BPF jumps only forward: a conditional jump's jt/jf is an 8-bit count of
// instructions to skip, `ja` a 32-bit one. The assembler checks both, so a program that
// grew past a short jump's reach fails to assemble instead of jumping somewhere else.

/** struct sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export interface BpfInsn { code: number; jt: number; jf: number; k: number }

// classic BPF opcodes (linux/filter.h, linux/bpf_common.h)
export const BPF_LD_W_ABS = 0x20;
export const BPF_ALU_AND_K = 0x54;
export const BPF_JA = 0x05;
export const BPF_JEQ_K = 0x15;
export const BPF_JGT_K = 0x25;
export const BPF_JGE_K = 0x35;
export const BPF_JSET_K = 0x45;
export const BPF_RET_K = 0x06;
/** The kernel's limit on a classic BPF program (linux/filter.h). */
export const BPF_MAXINSNS = 4096;

// seccomp return values (linux/seccomp.h)
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

/** struct seccomp_data.arch of the x86_64 ABI (linux/audit.h) */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 ABI calls are x86_64 numbers with this bit set */
export const X32_SYSCALL_BIT = 0x40000000;

// struct seccomp_data: nr, arch, instruction pointer, then six u64 args, little-endian (low word first)
export const OFF_NR = 0;
export const OFF_ARCH = 4;
export const argLo = (i: number): number => 16 + 8 * i;
export const argHi = (i: number): number => 16 + 8 * i + 4;
const SECCOMP_DATA_SIZE = 64;

/** A jump target: a label, or a count of instructions to skip. */
export type Target = number | string;

/** One line of a program: an instruction (jumps by label or count), a long `ja` to a label, or a label. */
export type Asm =
  | { code: number; k: number; jt?: Target; jf?: Target }
  | { ja: string }
  | { label: string };

export const ld = (off: number): Asm => ({ code: BPF_LD_W_ABS, k: off });
export const ret = (k: number): Asm => ({ code: BPF_RET_K, k });
/** if A == k jump to jt, else to jf (default: the next instruction) */
export const jeq = (k: number, jt: Target, jf: Target = 0): Asm => ({ code: BPF_JEQ_K, k, jt, jf });

export class BpfAssembleError extends Error {
  constructor(message: string) {
    super(`seccomp filter: ${message}`);
    this.name = 'BpfAssembleError';
  }
}

/** Resolves labels to the forward offsets classic BPF takes (jt/jf up to 255, ja up to 2^32 - 1). */
export function assemble(prog: readonly Asm[]): BpfInsn[] {
  const at = new Map<string, number>();
  let n = 0;
  for (const a of prog) {
    if ('label' in a) {
      if (at.has(a.label)) throw new BpfAssembleError(`label ${a.label} defined twice`);
      at.set(a.label, n);
    } else n++;
  }
  const out: BpfInsn[] = [];
  for (const a of prog) {
    if ('label' in a) continue;
    const pc = out.length;
    const offset = (t: Target | undefined, limit: number): number => {
      if (t === undefined) return 0;
      if (typeof t === 'number') return t;
      const target = at.get(t);
      if (target === undefined) throw new BpfAssembleError(`unknown label ${t}`);
      const off = target - pc - 1;
      if (off < 0 || off > limit) throw new BpfAssembleError(`jump from instruction ${pc} to ${t} out of range (${off}; at most ${limit}, forward only)`);
      return off;
    };
    if ('ja' in a) out.push({ code: BPF_JA, jt: 0, jf: 0, k: offset(a.ja, 0xffffffff) });
    else out.push({ code: a.code, k: a.k >>> 0, jt: offset(a.jt, 255), jf: offset(a.jf, 255) });
  }
  return out;
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

/**
 * What a filter answers for one syscall: a strict interpreter of the opcodes above, as the
 * kernel's checker would have them (loads of whole seccomp_data words, jumps inside the
 * program, a `ret` at the end of every path). For tests; the kernel runs the real thing.
 * `trace.steps`, when given, is set to the number of instructions the answer took.
 */
export function runFilter(insns: readonly BpfInsn[], data: { nr: number; arch: number; args?: readonly bigint[] }, trace?: { steps: number }): number {
  if (insns.length === 0 || insns.length > BPF_MAXINSNS) throw new Error(`runFilter: ${insns.length} instructions, not 1 to ${BPF_MAXINSNS}`);
  const mem = Buffer.alloc(SECCOMP_DATA_SIZE);
  mem.writeInt32LE(data.nr | 0, OFF_NR);
  mem.writeUInt32LE(data.arch, OFF_ARCH);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), argLo(i)));
  let acc = 0;
  let pc = 0;
  // Every jump is forward, so a program runs at most its length in steps.
  for (let steps = 0; steps <= insns.length; steps++) {
    const f = insns[pc];
    if (f === undefined) throw new Error(`runFilter: pc ${pc} is outside the program (${insns.length} instructions)`);
    if (f.jt < 0 || f.jt > 255 || f.jf < 0 || f.jf > 255) throw new Error(`runFilter: jt ${f.jt} / jf ${f.jf} at ${pc} is not a u8`);
    const jump = (cond: boolean): number => pc + 1 + (cond ? f.jt : f.jf);
    switch (f.code) {
      case BPF_LD_W_ABS:
        if (f.k % 4 !== 0 || f.k > SECCOMP_DATA_SIZE - 4) throw new Error(`runFilter: ld [${f.k}] at ${pc} is not a word of seccomp_data`);
        acc = mem.readUInt32LE(f.k);
        pc++;
        break;
      case BPF_ALU_AND_K: acc = (acc & f.k) >>> 0; pc++; break;
      case BPF_JA: pc = pc + 1 + f.k; break;
      case BPF_JEQ_K: pc = jump(acc === f.k); break;
      case BPF_JGT_K: pc = jump(acc > f.k); break;
      case BPF_JGE_K: pc = jump(acc >= f.k); break;
      case BPF_JSET_K: pc = jump((acc & f.k) >>> 0 !== 0); break;
      case BPF_RET_K:
        if (trace) trace.steps = steps + 1;
        return f.k;
      default: throw new Error(`runFilter: opcode 0x${f.code.toString(16)} at ${pc} not supported`);
    }
  }
  throw new Error('runFilter: the program did not return');
}
