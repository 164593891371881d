// A seccomp profile (src/spec/seccomp-profile.ts) → classic BPF for the plan's `seccomp`
// operation. Pure: the host's kernel version is the only thing read, and only when a rule has
// a minKernel and the caller gave no version.
//
// Meaning, as Docker and libseccomp give it, on x86_64:
// - a rule applies when `includes` holds (every cap in the container's capability set, the
//   arch "amd64" among its arches, the kernel at least minKernel) and `excludes` does not (no
//   cap of it in the set, "amd64" not among its arches). Arch names are Go's, as in Docker;
// - syscall names not in the x86_64 table (src/spec/syscalls-x86_64.ts) are skipped, as
//   libseccomp skips names of other architectures: Docker's profile names chown32 and the like;
// - per syscall, its rules with argument comparisons are tried in the profile's order and the
//   first whose comparisons all hold decides; then its unconditional rule, if any; then the
//   default action. Two unconditional rules with different actions for one syscall are an error;
// - comparisons are unsigned 64-bit, done on the two 32-bit halves of struct seccomp_data's
//   argument (MASKED_EQ: (arg & value) == valueTwo);
// - the architectures and archMap of a profile are accepted, but only x86_64 is filtered:
//   any other ABI (i386 through int 0x80, x32) is killed, as with skiff's default filter;
// - under a default SCMP_ACT_ERRNO, syscall numbers above the table's last get ENOSYS, not the
//   default errno (as runc does): a syscall newer than the profile is one its author could not
//   name, and libc falls back to an older call only on ENOSYS (glibc's fchmodat2, say).
//
// Layout of the program (every jump forward, as classic BPF requires; jt/jf reach 255
// instructions, so every far target is reached through `ja`, whose offset is 32 bits):
//   arch and x32 checks, each with its own `ret KILL_PROCESS` right after it;
//   a binary search over the syscall numbers that have rules: `jge mid` + `ja right` per node,
//   `jeq nr` + `ja block` per syscall in the leaves, each leaf ending in `ret default`;
//   a block per syscall with conditional rules: its comparisons, short jumps within the block;
//   one `ret` per distinct action, shared by every syscall whose rule is unconditional.
import { release } from 'node:os';
import { EPERM, ENOSYS } from '../sys/errno.js';
import { CAPABILITY_NUMBERS } from '../spec/capabilities.js';
import { SECCOMP_FLAGS, type SeccompAction, type SeccompArg, type SeccompFilter, type SeccompProfileSpec, type U64 } from '../spec/seccomp-profile.js';
import { SYSCALLS_X86_64 } from '../spec/syscalls-x86_64.js';
import type { Op } from '../native/plan-format.js';
import type { ContainerSpec } from '../spec/container.js';
import { unreachable } from '../api/unreachable.js';
import {
  AUDIT_ARCH_X86_64, BPF_ALU_AND_K, BPF_JEQ_K, BPF_JGE_K, BPF_JGT_K, BPF_MAXINSNS, OFF_ARCH, OFF_NR, SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRAP, X32_SYSCALL_BIT,
  argHi, argLo, assemble, encodeFilter, ld, ret, type Asm, type BpfInsn,
} from './bpf.js';
import { defaultSeccompFilter } from './seccomp.js';

/** The highest syscall number the table knows. */
export const LAST_NR = Math.max(...Object.values(SYSCALLS_X86_64));

/** The Go architecture name Docker matches includes/excludes arches against on this machine. */
export const PROFILE_ARCH = 'amd64';

export class SeccompCompileError extends Error {
  constructor(source: string, reason: string) {
    super(`seccomp profile ${source}: ${reason}`);
    this.name = 'SeccompCompileError';
  }
}

export interface CompileOptions {
  /** the container's capabilities, by number (what includes/excludes caps are checked against) */
  caps: readonly number[];
  /** the running kernel as [major, minor], for minKernel; default: this host's */
  kernel?: readonly [number, number];
}

export interface CompiledFilter {
  insns: BpfInsn[];
  /** seccomp(2) flags from the profile's `flags` */
  flags: number;
}

/** The seccomp return value of an action. */
export function actionValue(action: SeccompAction, errnoRet: number | null): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_ERRNO': return (SECCOMP_RET_ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_LOG': return SECCOMP_RET_LOG;
    default: return unreachable(action, 'seccomp profile action');
  }
}

let hostKernel: [number, number] | null = null;
function runningKernel(): readonly [number, number] {
  if (hostKernel === null) {
    const m = /^(\d+)\.(\d+)/.exec(release());
    hostKernel = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  }
  return hostKernel;
}

function kernelAtLeast(kernel: readonly [number, number], min: string): boolean {
  const [maj = 0, minor = 0] = min.split('.').map(Number);
  return kernel[0] > maj || (kernel[0] === maj && kernel[1] >= minor);
}

/** Whether a rule applies to this container, by Docker's rules for includes and excludes. */
function applies(includes: SeccompFilter, excludes: SeccompFilter, caps: ReadonlySet<string>, kernel: () => readonly [number, number]): boolean {
  if (includes.caps.some((c) => !caps.has(c))) return false;
  if (includes.arches.length > 0 && !includes.arches.includes(PROFILE_ARCH)) return false;
  if (includes.minKernel !== null && !kernelAtLeast(kernel(), includes.minKernel)) return false;
  if (excludes.caps.some((c) => caps.has(c))) return false;
  if (excludes.arches.includes(PROFILE_ARCH)) return false;
  return true;
}

interface Conditional { args: SeccompArg[]; ret: number }
interface SyscallRules { conditional: Conditional[]; unconditional: { ret: number; rule: number } | null }

const halves = (v: U64): [number, number] => {
  const n = BigInt(v);
  return [Number(n >> 32n), Number(n & 0xffffffffn)];
};

/**
 * One comparison: falls through when it holds, jumps to `fail` when it does not. The high
 * word decides unless it is equal; only then does the low word.
 */
function compare(a: SeccompArg, fail: string, id: string): Asm[] {
  const [hi, lo] = halves(a.value);
  const holds = `${id}.holds`;
  switch (a.op) {
    case 'SCMP_CMP_EQ':
      return [ld(argHi(a.index)), { code: BPF_JEQ_K, k: hi, jf: fail }, ld(argLo(a.index)), { code: BPF_JEQ_K, k: lo, jf: fail }];
    case 'SCMP_CMP_NE':
      return [ld(argHi(a.index)), { code: BPF_JEQ_K, k: hi, jf: holds }, ld(argLo(a.index)), { code: BPF_JEQ_K, k: lo, jt: fail },
        { label: holds }];
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
      return [ld(argHi(a.index)), { code: BPF_JGT_K, k: hi, jt: holds }, { code: BPF_JEQ_K, k: hi, jf: fail },
        ld(argLo(a.index)), { code: a.op === 'SCMP_CMP_GT' ? BPF_JGT_K : BPF_JGE_K, k: lo, jf: fail }, { label: holds }];
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE':
      return [ld(argHi(a.index)), { code: BPF_JGT_K, k: hi, jt: fail }, { code: BPF_JEQ_K, k: hi, jf: holds },
        ld(argLo(a.index)), { code: a.op === 'SCMP_CMP_LT' ? BPF_JGE_K : BPF_JGT_K, k: lo, jt: fail }, { label: holds }];
    case 'SCMP_CMP_MASKED_EQ': {
      const [dhi, dlo] = halves(a.valueTwo);
      const half = (off: number, mask: number, datum: number): Asm[] => {
        if (mask === 0) return datum === 0 ? [] : [{ ja: fail }];
        return [ld(off), { code: BPF_ALU_AND_K, k: mask }, { code: BPF_JEQ_K, k: datum, jf: fail }];
      };
      return [...half(argHi(a.index), hi, dhi), ...half(argLo(a.index), lo, dlo)];
    }
    default:
      return unreachable(a.op, 'seccomp profile comparison');
  }
}

/** Leaves of the search hold at most this many syscalls (compared one after the other). */
const LEAF = 4;

/** Compiles a profile for a container with the given capabilities. */
export function compileSeccompProfile({ profile, source }: SeccompProfileSpec, opts: CompileOptions): CompiledFilter {
  const capNames = new Set(Object.entries(CAPABILITY_NUMBERS).filter(([, n]) => opts.caps.includes(n)).map(([c]) => c));
  const kernel = (): readonly [number, number] => opts.kernel ?? runningKernel();
  const defaultRet = actionValue(profile.defaultAction, profile.defaultErrnoRet);

  const bySyscall = new Map<number, SyscallRules>();
  profile.syscalls.forEach((rule, i) => {
    if (!applies(rule.includes, rule.excludes, capNames, kernel)) return;
    const value = actionValue(rule.action, rule.errnoRet);
    if (value === defaultRet) return; // what the default does anyway
    for (const name of rule.names) {
      if (!Object.hasOwn(SYSCALLS_X86_64, name)) continue; // another architecture's, or newer than the table
      const nr = SYSCALLS_X86_64[name]!;
      const r = bySyscall.get(nr) ?? { conditional: [], unconditional: null };
      bySyscall.set(nr, r);
      if (rule.args.length > 0) {
        r.conditional.push({ args: rule.args, ret: value });
      } else if (r.unconditional === null) {
        r.unconditional = { ret: value, rule: i };
      } else if (r.unconditional.ret !== value) {
        throw new SeccompCompileError(source, `syscalls[${r.unconditional.rule}] and syscalls[${i}] give ${name} different actions; `
          + 'a syscall may have one rule without args');
      }
    }
  });

  const retLabel = (k: number): string => `ret.${k >>> 0}`;
  const rets = new Set<number>([defaultRet]);
  const blocks: Asm[] = [];
  const target = new Map<number, string>();
  for (const [nr, r] of bySyscall) {
    const fallback = r.unconditional?.ret ?? defaultRet;
    if (r.conditional.length === 0) {
      target.set(nr, retLabel(fallback));
      rets.add(fallback);
      continue;
    }
    target.set(nr, `sys.${nr}`);
    blocks.push({ label: `sys.${nr}` });
    r.conditional.forEach((c, ci) => {
      const next = `sys.${nr}.${ci}.next`;
      c.args.forEach((a, ai) => blocks.push(...compare(a, next, `sys.${nr}.${ci}.${ai}`)));
      blocks.push(ret(c.ret), { label: next });
    });
    blocks.push(ret(fallback));
  }

  const nrs = [...target.keys()].sort((a, b) => a - b);
  const search: Asm[] = [];
  const tree = (lo: number, hi: number): void => {
    if (hi - lo <= LEAF) {
      for (let i = lo; i < hi; i++) search.push({ code: BPF_JEQ_K, k: nrs[i]!, jt: 0, jf: 1 }, { ja: target.get(nrs[i]!)! });
      search.push(ret(defaultRet));
      return;
    }
    const mid = (lo + hi) >>> 1;
    const right = `search.${nrs[mid]}`;
    search.push({ code: BPF_JGE_K, k: nrs[mid]!, jt: 0, jf: 1 }, { ja: right });
    tree(lo, mid);
    search.push({ label: right });
    tree(mid, hi);
  };
  tree(0, nrs.length);

  const prog: Asm[] = [
    ld(OFF_ARCH),
    { code: BPF_JEQ_K, k: AUDIT_ARCH_X86_64, jt: 1, jf: 0 },
    ret(SECCOMP_RET_KILL_PROCESS),
    ld(OFF_NR),
    { code: BPF_JGE_K, k: X32_SYSCALL_BIT, jt: 0, jf: 1 },
    ret(SECCOMP_RET_KILL_PROCESS),
    ...(profile.defaultAction === 'SCMP_ACT_ERRNO' ? [{ code: BPF_JGT_K, k: LAST_NR, jt: 0, jf: 1 }, ret(SECCOMP_RET_ERRNO | ENOSYS)] : []),
    ...search,
    ...blocks,
    ...[...rets].flatMap((k): Asm[] => [{ label: retLabel(k) }, ret(k)]),
  ];
  const insns = assemble(prog);
  if (insns.length > BPF_MAXINSNS) {
    throw new SeccompCompileError(source, `compiles to ${insns.length} BPF instructions, more than the kernel's limit of `
      + `${BPF_MAXINSNS}; fewer rules with args would fit`);
  }
  const flags = profile.flags.reduce((f, name) => f | (SECCOMP_FLAGS[name] ?? 0), 0);
  return { insns, flags };
}

/** The plan's seccomp operation for a spec's `seccomp`: skiff's default filter, a profile, or none. */
/** The default filter depends on nothing: built once per launcher, not once per start. */
let defaultProgram: Buffer | null = null;

/**
 * Compiled profiles by their text and the container's capabilities: a fleet's replicas (and a
 * container's restarts) start with the same profile, and serializing it costs a sixth of
 * compiling Docker's. A handful of entries: a launcher rarely sees more profiles than that.
 */
const compiled = new Map<string, { program: Buffer; flags: number }>();
const COMPILED_MAX = 16;

function compileCached(seccomp: SeccompProfileSpec, caps: readonly number[]): { program: Buffer; flags: number } {
  const key = `${caps.join(',')}\n${JSON.stringify(seccomp, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
  let hit = compiled.get(key);
  if (hit === undefined) {
    const { insns, flags } = compileSeccompProfile(seccomp, { caps });
    hit = { program: encodeFilter(insns), flags };
    if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, hit);
  }
  return hit;
}

export function seccompOps(seccomp: ContainerSpec['seccomp'], caps: readonly number[]): Op[] {
  if (seccomp === 'unconfined') return [];
  if (seccomp === 'default') {
    defaultProgram ??= encodeFilter(defaultSeccompFilter());
    return [{ what: 'load the default seccomp filter', op: 'seccomp', program: defaultProgram, flags: 0 }];
  }
  const { program, flags } = compileCached(seccomp, caps);
  return [{ what: `load the seccomp profile \`${seccomp.source}\``, op: 'seccomp', program, flags }];
}
