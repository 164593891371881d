// Seccomp profiles in Docker's format: every error with its exact text; compiled programs run
// through a classic BPF interpreter of the test's own (strict: jumps checked, no falling off the
// end) for given syscall numbers and 64-bit arguments; Docker's default profile (its structure,
// test/fixtures/seccomp-docker-default.json) compiled for several capability sets and checked
// syscall by syscall against a direct reading of the profile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { seccompOption } from '../../src/cli/seccomp-option.js';
import { CreateError, specFromCreateBody } from '../../src/main/docker/create.js';
import { CAPABILITY_NUMBERS, DEFAULT_CAPABILITIES, resolveCapabilities } from '../../src/spec/capabilities.js';
import { SpecError, validateSpec } from '../../src/spec/container.js';
import { FleetError, loadFleetFile, parseFleet } from '../../src/compose/fleet.js';
import {
  parseSeccompProfile, SeccompProfileError, validateSeccompProfile, type SeccompProfile, type SeccompProfileSpec,
} from '../../src/spec/seccomp-profile.js';
import { SYSCALLS_X86_64 } from '../../src/spec/syscalls-x86_64.js';
import {
  actionValue, compileSeccompProfile, LAST_NR, SeccompCompileError, seccompOps, type CompileOptions,
} from '../../src/workers/seccomp-compile.js';
import {
  AUDIT_ARCH_X86_64, BPF_MAXINSNS, encodeFilter, runFilter, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  X32_SYSCALL_BIT, type BpfInsn,
} from '../../src/workers/bpf.js';
import { defaultSeccompFilter } from '../../src/workers/seccomp.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/seccomp-docker-default.json', import.meta.url));
const SRC = '/x/p.json';
const ALLOW = SECCOMP_RET_ALLOW;
const EPERM = SECCOMP_RET_ERRNO | 1;
const EACCES = SECCOMP_RET_ERRNO | 13;
const ENOSYS = SECCOMP_RET_ERRNO | 38;
const KILL_PROCESS = SECCOMP_RET_KILL_PROCESS;
const AUDIT_ARCH_I386 = 0x40000003;
const NR = SYSCALLS_X86_64;
const U64 = (1n << 64n) - 1n;

/** What the filter answers, through the strict interpreter of src/workers/bpf.ts. */
function run(insns: readonly BpfInsn[], nr: number, args: readonly bigint[] = [], arch = AUDIT_ARCH_X86_64): number {
  return runFilter(insns, { nr, arch, args });
}

/** parse → validate, expecting this exact error. */
function refuses(text: string, message: string): SeccompProfileError {
  try {
    parseSeccompProfile(text, SRC);
  } catch (err) {
    expect(err).to.be.instanceOf(SeccompProfileError);
    expect((err as Error).message).to.equal(message);
    return err as SeccompProfileError;
  }
  return expect.fail(`expected "${message}"`);
}

/** A profile whose one rule is `rule` (the default: allow). */
const withRule = (rule: Record<string, unknown>, top: Record<string, unknown> = {}): string =>
  JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }, { names: ['write'], action: 'SCMP_ACT_ALLOW' }, { names: ['open'], action: 'SCMP_ACT_ALLOW' }, rule], ...top });

const compile = (p: SeccompProfile | string, opts: Partial<CompileOptions> = {}): BpfInsn[] =>
  compileSeccompProfile({ profile: typeof p === 'string' ? parseSeccompProfile(p, SRC) : p, source: SRC },
    { caps: resolveCapabilities({ add: [], drop: [] }), kernel: [6, 1], ...opts }).insns;

describe('seccomp profiles: parsing and validation', () => {
  it('JSON syntax errors give line:column', () => {
    refuses('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [}\n', 'seccomp profile /x/p.json:3:16: invalid JSON: expected a value, got "}"');
    refuses('{"defaultAction": "SCMP_ACT_ERRNO" "syscalls": []}', 'seccomp profile /x/p.json:1:36: invalid JSON: expected "," or "}", got "\\""');
    refuses('{"defaultAction": "SCMP_ACT_ERRNO",', 'seccomp profile /x/p.json:1:36: invalid JSON: expected a key in double quotes, got the end of the file');
    refuses('{"defaultAction": "SCMP_\nACT"}', 'seccomp profile /x/p.json:1:25: invalid JSON: a control character in a string must be escaped');
    refuses('{"a": "\\x"}', 'seccomp profile /x/p.json:1:8: invalid JSON: invalid escape "\\\\x" in a string');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW"} x', 'seccomp profile /x/p.json:1:37: invalid JSON: unexpected "x" after the profile');
    refuses('', 'seccomp profile /x/p.json:1:1: invalid JSON: expected a value, got the end of the file');
    refuses(`${'['.repeat(40)}${']'.repeat(40)}`, 'seccomp profile /x/p.json:1:34: invalid JSON: nested more than 32 deep');
  });

  it('the profile as a whole: an object with a known defaultAction and known fields', () => {
    refuses('[]', 'seccomp profile /x/p.json: must be an object, got an array');
    refuses('{}', 'seccomp profile /x/p.json: defaultAction: is required (one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "defaultaction": 1}', 'seccomp profile /x/p.json: defaultaction: is not a known field (known: defaultAction, defaultErrnoRet, architectures, archMap, flags, listenerPath, listenerMetadata, syscalls)');
    refuses('{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096}', 'seccomp profile /x/p.json: defaultErrnoRet: must be an errno number from 0 to 4095, got 4096');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}', 'seccomp profile /x/p.json: syscalls: must be a list, got an object');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}', 'seccomp profile /x/p.json: listenerPath: is not supported: skiff runs no seccomp notification agent');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_NEW_LISTENER"]}', 'seccomp profile /x/p.json: flags[1]: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER" (known: SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW)');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "x86_64"]}', 'seccomp profile /x/p.json: architectures[1]: unknown architecture "x86_64" (e.g. SCMP_ARCH_X86_64)');
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_I386"]}]}', 'seccomp profile /x/p.json: archMap[0].subArchitectures[0]: unknown architecture "SCMP_ARCH_I386" (e.g. SCMP_ARCH_X86_64)');
  });

  it('actions: unknown ones are listed; TRACE and NOTIFY are refused and say why', () => {
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_FOO' }), 'seccomp profile /x/p.json: syscalls[3].action: unknown action "SCMP_ACT_FOO" (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)');
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_TRACE' }), 'seccomp profile /x/p.json: syscalls[3].action: SCMP_ACT_TRACE is not supported: skiff runs no tracer, and a traced call with no tracer attached fails with ENOSYS; write SCMP_ACT_ERRNO with "errnoRet": 38 for that');
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }), 'seccomp profile /x/p.json: syscalls[3].action: SCMP_ACT_NOTIFY is not supported: skiff runs no seccomp notification agent (listenerPath)');
    refuses(withRule({ names: ['mkdir'] }), 'seccomp profile /x/p.json: syscalls[3].action: is required (one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)');
    refuses(withRule({ names: ['mkdir'], action: 7 }), 'seccomp profile /x/p.json: syscalls[3].action: must be a string, got 7');
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', errnoRet: 13 }), 'seccomp profile /x/p.json: syscalls[3].errnoRet: is only for SCMP_ACT_ERRNO, not SCMP_ACT_ALLOW');
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }), 'seccomp profile /x/p.json: syscalls[3].errnoRet: must be an errno number from 0 to 4095, got -1');
  });

  it('names: a list of strings (unknown names are fine: other architectures), or one name, not both', () => {
    refuses(withRule({ names: ['mkdir', 83], action: 'SCMP_ACT_ERRNO' }), 'seccomp profile /x/p.json: syscalls[3].names[1]: must be a string, got 83');
    refuses(withRule({ names: 'mkdir', action: 'SCMP_ACT_ERRNO' }), 'seccomp profile /x/p.json: syscalls[3].names: must be a list, got "mkdir"');
    refuses(withRule({ name: 'mkdir', names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }), 'seccomp profile /x/p.json: syscalls[3]: has both name and names; use one of them');
    refuses(withRule({ action: 'SCMP_ACT_ERRNO' }), 'seccomp profile /x/p.json: syscalls[3]: has no names: list the syscalls it is about');
    refuses(withRule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', nmes: [] }), 'seccomp profile /x/p.json: syscalls[3].nmes: is not a known field (known: names, name, action, errnoRet, args, includes, excludes, comment)');
    const p = parseSeccompProfile(withRule({ name: 'mkdir', action: 'SCMP_ACT_ERRNO', comment: 'legacy form' }), SRC);
    expect(p.syscalls[3]).to.deep.equal({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: null, args: [],
      includes: { caps: [], arches: [], minKernel: null }, excludes: { caps: [], arches: [], minKernel: null } });
    expect(parseSeccompProfile(withRule({ names: ['chown32', 'arm_fadvise64_64'], action: 'SCMP_ACT_ERRNO' }), SRC).syscalls[3]!.names).to.deep.equal(['chown32', 'arm_fadvise64_64']);
  });

  it('args: index 0 to 5, a known op, unsigned 64-bit values (exact beyond 2^53), at most 6', () => {
    const arg = (a: unknown): string => withRule({ names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, a] });
    refuses(arg({ index: 6, value: 1, op: 'SCMP_CMP_EQ' }), 'seccomp profile /x/p.json: syscalls[3].args[1].index: must be an argument number from 0 to 5, got 6');
    refuses(arg({ value: 1, op: 'SCMP_CMP_EQ' }), 'seccomp profile /x/p.json: syscalls[3].args[1].index: must be an argument number from 0 to 5, got undefined');
    refuses(arg({ index: 0, value: 1, op: 'SCMP_CMP_EQUAL' }), 'seccomp profile /x/p.json: syscalls[3].args[1].op: unknown comparison "SCMP_CMP_EQUAL" (known: SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)');
    refuses(arg({ index: 0, value: 1 }), 'seccomp profile /x/p.json: syscalls[3].args[1].op: is required (one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)');
    refuses(arg({ index: 0, value: -1, op: 'SCMP_CMP_EQ' }), 'seccomp profile /x/p.json: syscalls[3].args[1].value: must be an integer from 0 to 18446744073709551615, got -1');
    refuses(arg({ index: 0, value: 1.5, op: 'SCMP_CMP_EQ' }), 'seccomp profile /x/p.json: syscalls[3].args[1].value: must be an integer from 0 to 18446744073709551615, got 1.5');
    refuses(arg({ index: 0, value: 1, valueTwo: '0x10', op: 'SCMP_CMP_MASKED_EQ' }), 'seccomp profile /x/p.json: syscalls[3].args[1].valueTwo: must be an integer from 0 to 18446744073709551615, got "0x10"');
    refuses(arg({ index: 0, value: 1, op: 'SCMP_CMP_EQ', valueThree: 1 }), 'seccomp profile /x/p.json: syscalls[3].args[1].valueThree: is not a known field (known: index, value, valueTwo, op)');
    refuses(withRule({ names: ['socket'], action: 'SCMP_ACT_ERRNO', args: Array(7).fill({ index: 0, value: 1, op: 'SCMP_CMP_NE' }) }), 'seccomp profile /x/p.json: syscalls[3].args: has 7 comparisons; at most 6 are allowed');
    // 2^64 - 1 and 2^64 as written in the file, which JSON.parse would round to the same double
    refuses('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}]}]}',
      'seccomp profile /x/p.json: syscalls[0].args[0].value: must be an integer from 0 to 18446744073709551615, got 18446744073709551616');
    const p = parseSeccompProfile('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18446744073709551615, "valueTwo": 9007199254740993, "op": "SCMP_CMP_EQ"}]}]}', SRC);
    expect(p.syscalls[0]!.args).to.deep.equal([{ index: 0, value: '18446744073709551615', valueTwo: '9007199254740993', op: 'SCMP_CMP_EQ' }]);
  });

  it('includes and excludes: known caps, arches as strings, minKernel only in includes', () => {
    refuses(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMN'] } }), 'seccomp profile /x/p.json: syscalls[3].includes.caps[0]: is not a known capability (e.g. CAP_SYS_ADMIN), got "CAP_SYS_ADMN"');
    refuses(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', excludes: { arches: [64] } }), 'seccomp profile /x/p.json: syscalls[3].excludes.arches[0]: must be a string, got 64');
    refuses(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4' } }), 'seccomp profile /x/p.json: syscalls[3].includes.minKernel: must be a kernel version such as "4.8", got "4"');
    refuses(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '4.8' } }), 'seccomp profile /x/p.json: syscalls[3].excludes.minKernel: is not supported in excludes (as in Docker)');
    refuses(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: [], kernel: '4.8' } }), 'seccomp profile /x/p.json: syscalls[3].includes.kernel: is not a known field (known: caps, arches, minKernel)');
    expect(parseSeccompProfile(withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['sys_admin'] } }), SRC).syscalls[3]!.includes.caps).to.deep.equal(['CAP_SYS_ADMIN']);
  });

  it('the normalized form is plain JSON and validates to itself (what a spec stores and skiffd checks again)', () => {
    const p = parseSeccompProfile(readFileSync(FIXTURE, 'utf8'), FIXTURE);
    const again = validateSeccompProfile(JSON.parse(JSON.stringify(p)), FIXTURE);
    expect(again).to.deep.equal(p);
  });

  it('validateSpec takes { profile, source }, checks the profile, and reads no file', () => {
    const base = { name: 'c', command: ['/bin/true'] };
    const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
    const spec = validateSpec({ ...base, seccomp: { profile, source: '/etc/p.json' } });
    expect(spec.seccomp).to.deep.equal({ profile: parseSeccompProfile(JSON.stringify(profile), 'x'), source: '/etc/p.json' });
    const rejects = (seccomp: unknown, field: string, message: string): void => {
      try {
        validateSpec({ ...base, seccomp });
      } catch (err) {
        expect(err).to.be.instanceOf(SpecError);
        expect((err as SpecError).field).to.equal(field);
        expect((err as Error).message).to.equal(message);
        return;
      }
      expect.fail(message);
    };
    rejects('/etc/p.json', 'seccomp', 'seccomp must be default, unconfined or { profile, source } (a profile file is read by the CLI), got "/etc/p.json"');
    rejects({ profile }, 'seccomp.source', 'seccomp.source must be a string, got undefined');
    rejects({ source: '/etc/p.json' }, 'seccomp.profile', 'seccomp.profile is required');
    rejects({ profile, source: '/etc/p.json', path: '/x' }, 'seccomp.path', 'seccomp.path is not a known field (known: profile, source)');
    rejects({ profile: { ...profile, defaultAction: 'SCMP_ACT_TRACE' }, source: '/etc/p.json' }, 'seccomp',
      'seccomp profile /etc/p.json: defaultAction: SCMP_ACT_TRACE is not supported: skiff runs no tracer, and a traced call with no tracer attached fails with ENOSYS; write SCMP_ACT_ERRNO with "errnoRet": 38 for that');
  });
});

/** Unsigned 64-bit comparisons as the profile means them. */
function holds(op: string, arg: bigint, value: bigint, valueTwo: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ': return arg === value;
    case 'SCMP_CMP_NE': return arg !== value;
    case 'SCMP_CMP_LT': return arg < value;
    case 'SCMP_CMP_LE': return arg <= value;
    case 'SCMP_CMP_GT': return arg > value;
    case 'SCMP_CMP_GE': return arg >= value;
    case 'SCMP_CMP_MASKED_EQ': return (arg & value) === valueTwo;
    default: throw new Error(op);
  }
}

describe('seccomp profiles: compiled to classic BPF', () => {
  it('a deny rule with errnoRet; the rest is the default (allow)', () => {
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
    expect(run(f, NR.mkdir!)).to.equal(EACCES);
    expect(run(f, NR.mkdirat!)).to.equal(EACCES);
    for (const nr of [0, 1, 59, NR.rmdir!, NR.mkdir! + 1, 450, 1000]) expect(run(f, nr), `nr ${nr}`).to.equal(ALLOW);
  });

  it('an allow list under a default errno; ERRNO without errnoRet is EPERM', () => {
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [
      { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' }, { names: ['getpid'], action: 'SCMP_ACT_ERRNO' }] }));
    expect([run(f, NR.read!), run(f, NR.write!), run(f, NR.exit_group!), run(f, NR.getpid!), run(f, NR.open!), run(f, 9999)])
      .to.deep.equal([ALLOW, ALLOW, ALLOW, EPERM, ENOSYS, ENOSYS]);
  });

  it('under a default errno, syscalls newer than the table get ENOSYS (libc then falls back), as runc does', () => {
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }));
    expect(LAST_NR).to.equal(450);
    expect([run(f, NR.read!), run(f, NR.write!), run(f, LAST_NR), run(f, LAST_NR + 1), run(f, 452), run(f, 0x3fffffff)])
      .to.deep.equal([ALLOW, EPERM, EPERM, ENOSYS, ENOSYS, ENOSYS]);
    const kill = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_KILL_PROCESS', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }));
    expect(run(kill, 452)).to.equal(KILL_PROCESS);
  });

  it('every action has its seccomp return value', () => {
    const actions = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG', 'SCMP_ACT_ERRNO'] as const;
    const names = ['read', 'write', 'open', 'close', 'stat', 'fstat'];
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: actions.map((action, i) => ({ names: [names[i]], action })) }));
    expect(names.map((n) => run(f, NR[n]!))).to.deep.equal([0, 0, 0x80000000, 0x00030000, 0x7ffc0000, EPERM]);
    expect(actionValue('SCMP_ACT_ERRNO', 0)).to.equal(SECCOMP_RET_ERRNO);
  });

  it('kills any other architecture and the x32 ABI, as the default filter does', () => {
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }));
    expect(run(f, 3, [], AUDIT_ARCH_I386)).to.equal(KILL_PROCESS);
    expect(run(f, X32_SYSCALL_BIT | 0)).to.equal(KILL_PROCESS);
    expect(run(f, 0)).to.equal(ALLOW);
  });

  it('each comparison is unsigned 64-bit, both halves judged', () => {
    const edges = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn,
      0xffffffff00000000n, 0xfffffffffffffffen, U64, 0x123456789abcdefn, 0x8000000000000000n];
    const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GT', 'SCMP_CMP_GE'];
    for (const op of ops) {
      for (const value of edges) {
        const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 3, value: value.toString(), op }] }] })
          .replace(/"value":"(\d+)"/, '"value":$1'));
        for (const arg of edges) {
          expect(run(f, NR.personality!, [0n, 0n, 0n, arg]), `${op} ${arg.toString(16)} vs ${value.toString(16)}`).to.equal(holds(op, arg, value, 0n) ? EPERM : ALLOW);
        }
      }
    }
  });

  it('MASKED_EQ: (arg & value) == valueTwo over all 64 bits', () => {
    const cases: [bigint, bigint][] = [[0x7e020000n, 0n], [0xffffffff00000000n, 0x100000000n], [0xf0000000000000f0n, 0x8000000000000010n],
      [0xffn, 0x100n /* never: valueTwo has bits outside the mask */], [0n, 0n /* always */], [U64, 0x10000000n]];
    const args = [0n, 0x10000000n, 0x20000n, 0x100000000n, 0x100000011n, 0x8000000000000010n, 0x80000000000000f0n, 0xffn, U64, 0x1200011n];
    for (const [mask, datum] of cases) {
      const f = compile({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: null, architectures: [], archMap: [], flags: [], syscalls: [
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', errnoRet: null, args: [{ index: 0, value: mask.toString(), valueTwo: datum.toString(), op: 'SCMP_CMP_MASKED_EQ' }],
          includes: { caps: [], arches: [], minKernel: null }, excludes: { caps: [], arches: [], minKernel: null } }] });
      for (const a of args) expect(run(f, NR.clone!, [a]), `${a.toString(16)} & ${mask.toString(16)} == ${datum.toString(16)}`).to.equal(holds('SCMP_CMP_MASKED_EQ', a, mask, datum) ? ALLOW : EPERM);
    }
  });

  it('a rule with several comparisons needs them all; the first matching rule decides; then the rule without args; then the default', () => {
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 3, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 10, op: 'SCMP_CMP_LE' }] },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ] }));
    expect(run(f, NR.socket!, [2n, 3n])).to.equal(EACCES);
    expect(run(f, NR.socket!, [2n, 1n])).to.equal(SECCOMP_RET_ERRNO | 97);
    expect(run(f, NR.socket!, [1n, 3n])).to.equal(SECCOMP_RET_ERRNO | 22);
    expect(run(f, NR.socket!, [16n])).to.equal(EPERM);
    expect(run(f, NR.socket!, [(1n << 32n) | 2n, 3n])).to.equal(EPERM);
    expect(run(f, NR.read!)).to.equal(ALLOW);
  });

  it('two rules without args that give one syscall different actions are an error', () => {
    expect(() => compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, { names: ['write'], action: 'SCMP_ACT_LOG' }] })))
      .to.throw(SeccompCompileError, 'seccomp profile /x/p.json: syscalls[0] and syscalls[1] give write different actions; a syscall may have one rule without args');
  });

  it('includes and excludes: caps against the container\'s set, arches against amd64, minKernel against the kernel', () => {
    const text = JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'] } },
      { names: ['unshare'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
      { names: ['modify_ldt'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['x86', 'x32'] } },
      { names: ['iopl'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['openat2'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.6' } },
    ] });
    const nrs = ['mount', 'ptrace', 'unshare', 'arch_prctl', 'modify_ldt', 'iopl', 'openat2'].map((n) => NR[n]!);
    const c = (caps: string[], kernel: [number, number] = [6, 1]): string => nrs.map((nr) => (run(compile(text, { caps: caps.map((n) => CAPABILITY_NUMBERS[n]!), kernel }), nr) === ALLOW ? 'A' : '-')).join('');
    expect(c([])).to.equal('--AA--A');
    expect(c(['CAP_SYS_ADMIN'])).to.equal('A--A--A');
    expect(c(['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'])).to.equal('AA-A--A');
    expect(c(['CAP_NET_ADMIN'], [5, 4])).to.equal('---A---');
    expect(c([], [5, 6])).to.equal('--AA--A');
  });

  it('names unknown on x86_64 are skipped; the flags are passed on', () => {
    const { insns, flags } = compileSeccompProfile({ profile: parseSeccompProfile(JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO',
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      syscalls: [{ names: ['chown32', 'read', '', 'toString', '__proto__', 'arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW' }] }), SRC), source: SRC }, { caps: [] });
    expect(flags).to.equal(6);
    expect(insns.length).to.equal(6 + 2 + 2 + 1 + 2); // arch and x32 checks, newer than the table, one jeq + ja, ret default, the shared ret
    expect(run(insns, NR.read!)).to.equal(ALLOW);
    expect(run(insns, NR.chown!)).to.equal(EPERM);
  });

  it('far targets are reached through ja; more than 4096 instructions is a clear error', () => {
    // every syscall with its own block of six 64-bit comparisons: thousands of instructions, far jumps everywhere
    const rule = (n: string, i: number) => ({ names: [n], action: 'SCMP_ACT_ERRNO', errnoRet: (i % 4000) + 1,
      args: [0, 1, 2].map((index) => ({ index, value: index === 1 ? 7 : 0x1_0000_0000 + i, op: index === 1 ? 'SCMP_CMP_LE' : 'SCMP_CMP_NE' })) });
    const names = Object.keys(NR).slice(0, 120);
    const f = compile(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: names.map(rule) }));
    expect(f.length).to.be.within(2000, BPF_MAXINSNS);
    expect(f.some((insn) => insn.code === 0x05 && insn.k > 255)).to.equal(true);
    names.forEach((n, i) => {
      expect(run(f, NR[n]!, [0n, 7n, 0n]), n).to.equal(SECCOMP_RET_ERRNO | ((i % 4000) + 1));
      expect(run(f, NR[n]!, [0x1_0000_0000n + BigInt(i), 7n, 0n]), n).to.equal(ALLOW);
      expect(run(f, NR[n]!, [0n, 8n, 0n]), n).to.equal(ALLOW);
    });
    const big = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: Object.keys(NR).slice(0, 300).map(rule) });
    expect(() => compile(big)).to.throw(SeccompCompileError, 'seccomp profile /x/p.json: compiles to 5429 BPF instructions, more than the kernel\'s limit of 4096; fewer rules with args would fit');
  });

  it('the plan\'s operation: the default filter as before, none for unconfined, the profile with its source', () => {
    expect(seccompOps('default', [])).to.deep.equal([{ what: 'load the default seccomp filter', op: 'seccomp', program: encodeFilter(defaultSeccompFilter()), flags: 0 }]);
    expect(seccompOps('unconfined', [])).to.deep.equal([]);
    const spec: SeccompProfileSpec = { profile: parseSeccompProfile('{"defaultAction": "SCMP_ACT_LOG", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}', SRC), source: SRC };
    const [op] = seccompOps(spec, []);
    expect(op).to.deep.include({ what: 'load the seccomp profile `/x/p.json`', op: 'seccomp', flags: 2 });
    expect((op as { program: Buffer }).program.length).to.equal(8 * 8);
  });
});

describe("seccomp profiles: Docker's default profile", () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const profile = parseSeccompProfile(text, FIXTURE);

  /** The profile read directly, by the documented rules: what it answers for one call. */
  function expected(caps: Set<string>, kernel: [number, number], nr: number, args: bigint[]): number {
    const rules = profile.syscalls.filter((r) => r.names.some((n) => NR[n] === nr && Object.hasOwn(NR, n))
      && r.includes.caps.every((c) => caps.has(c)) && (r.includes.arches.length === 0 || r.includes.arches.includes('amd64'))
      && (r.includes.minKernel === null || kernel[0] * 1000 + kernel[1] >= Number(r.includes.minKernel.split('.')[0]) * 1000 + Number(r.includes.minKernel.split('.')[1]))
      && !r.excludes.caps.some((c) => caps.has(c)) && !r.excludes.arches.includes('amd64'));
    const match = rules.find((r) => r.args.length > 0 && r.args.every((a) => holds(a.op, args[a.index] ?? 0n, BigInt(a.value), BigInt(a.valueTwo))))
      ?? rules.find((r) => r.args.length === 0);
    if (match) return actionValue(match.action, match.errnoRet);
    return nr > LAST_NR ? ENOSYS : actionValue(profile.defaultAction, profile.defaultErrnoRet);
  }

  const capSets: [string, string[]][] = [
    ['the default set', DEFAULT_CAPABILITIES as string[]],
    ['none', []],
    ['every capability', Object.keys(CAPABILITY_NUMBERS)],
    ['the default set + SYS_PTRACE', [...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE']],
  ];
  for (const [what, caps] of capSets) {
    it(`compiles under ${BPF_MAXINSNS} instructions and answers as the profile says, for ${what}`, () => {
      for (const kernel of [[6, 1], [4, 4]] as [number, number][]) {
        const f = compile(profile, { caps: caps.map((c) => CAPABILITY_NUMBERS[c]!), kernel });
        expect(f.length).to.be.lessThan(BPF_MAXINSNS);
        const argSets = [[], [0n], [8n], [0xffffffffn], [0x1_ffffffffn], [40n], [2n], [0x10000000n | 17n], [0x1200011n], [0x20000n]];
        for (let nr = 0; nr < 470; nr++) {
          for (const args of argSets) expect(run(f, nr, args), `nr ${nr} (${args.join(',')})`).to.equal(expected(new Set(caps), kernel, nr, args));
        }
      }
    });
  }

  it('with the default capabilities: the usual calls run, kernel reach is EPERM, new namespaces are refused', () => {
    const f = compile(profile);
    expect(f.length).to.be.lessThan(1000);
    const call = (name: string, ...args: bigint[]): number => run(f, NR[name]!, args);
    for (const n of ['read', 'write', 'execve', 'openat', 'mkdir', 'arch_prctl', 'exit_group', 'wait4', 'fork']) expect(call(n), n).to.equal(ALLOW);
    for (const n of ['mount', 'umount2', 'kexec_load', 'init_module', 'bpf', 'keyctl', 'setns', 'unshare', 'reboot', 'swapon', 'iopl']) expect(call(n), n).to.equal(EPERM);
    expect(call('ptrace')).to.equal(ALLOW); // Docker allows it from kernel 4.8 (the kernel's own checks suffice)
    expect(call('clone', 0x1200011n)).to.equal(ALLOW);
    expect(call('clone', 0x10000000n | 17n)).to.equal(EPERM);
    expect(call('clone3')).to.equal(ENOSYS);
    expect(call('socket', 2n, 1n)).to.equal(ALLOW);
    expect(call('socket', 40n)).to.equal(EPERM); // AF_VSOCK
    expect(call('personality', 0xffffffffn)).to.equal(ALLOW);
    expect(call('personality', 0x1_ffffffffn)).to.equal(EPERM);
    expect(call('personality', 0x40000n)).to.equal(EPERM);
    expect(run(f, 0, [], AUDIT_ARCH_I386)).to.equal(KILL_PROCESS);
  });
});

describe('seccomp profiles: where they come from (files are read by the CLI and the fleet loader only)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-seccomp-'));
  const good = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] });
  writeFileSync(join(dir, 'deny-mkdir.json'), good);
  writeFileSync(join(dir, 'bad.json'), '{"defaultAction": "SCMP_ACT_ALLOW",\n "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]}\n');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const fleet = (...opts: string[]): string => ['services:', '  web:', '    image: host', '    command: [/bin/true]', '    security_opt:',
    ...opts.map((o) => `      - ${o}`), ''].join('\n');

  it('the CLI: --seccomp default|unconfined|FILE, relative to the working directory', () => {
    expect(seccompOption('default')).to.equal('default');
    expect(seccompOption('builtin')).to.equal('default');
    expect(seccompOption('unconfined')).to.equal('unconfined');
    expect(seccompOption('deny-mkdir.json', dir)).to.deep.equal({ profile: parseSeccompProfile(good, 'x'), source: join(dir, 'deny-mkdir.json') });
    expect(() => seccompOption('missing.json', dir)).to.throw(SeccompProfileError, `seccomp profile ${dir}/missing.json: cannot read: ENOENT`);
    expect(() => seccompOption(dir)).to.throw(SeccompProfileError, `seccomp profile ${dir}: is a directory, not a profile`);
    expect(() => seccompOption('bad.json', dir)).to.throw(SeccompProfileError, `seccomp profile ${dir}/bad.json: syscalls[0].action: unknown action "SCMP_ACT_FOO" (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)`);
  });

  it('a fleet: security_opt seccomp=FILE relative to the fleet file, errors at its line:column', async () => {
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, fleet('seccomp=./deny-mkdir.json', 'no-new-privileges:false'));
    const f = await loadFleetFile(file);
    expect(f.services[0]!.specs[0]!.seccomp).to.deep.equal({ profile: parseSeccompProfile(good, 'x'), source: join(dir, 'deny-mkdir.json') });
    expect(f.services[0]!.specs[0]!.noNewPrivileges).to.equal(false);
    const fails = async (text: string, message: string): Promise<void> => {
      writeFileSync(file, text);
      try {
        await loadFleetFile(file);
      } catch (err) {
        expect(err).to.be.instanceOf(FleetError);
        expect((err as Error).message).to.equal(message);
        return;
      }
      expect.fail(message);
    };
    await fails(fleet('seccomp:missing.json'), `${file}:6:9 services.web.security_opt[0]: seccomp profile ${dir}/missing.json: cannot read: ENOENT`);
    await fails(fleet('seccomp=bad.json'), `${file}:6:9 services.web.security_opt[0]: seccomp profile ${dir}/bad.json: syscalls[0].action: unknown action "SCMP_ACT_FOO" (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)`);
    await fails(fleet('seccomp=unconfined', 'seccomp=deny-mkdir.json'), `${file}:7:9 services.web.security_opt[1]: a second seccomp option; give one`);
    await fails(fleet('apparmor=unconfined'), `${file}:6:9 services.web.security_opt[0]: "apparmor=unconfined" is not supported by skiff (seccomp=FILE, seccomp=unconfined and no-new-privileges are)`);
    expect(parseFleet(fleet('seccomp=unconfined'), 'fleet.yaml').services[0]!.specs[0]!.seccomp).to.equal('unconfined');
    expect(() => parseFleet(fleet('seccomp=p.json'), '/srv/fleet.yaml')).to.throw(FleetError,
      '/srv/fleet.yaml:6:9 services.web.security_opt[0]: seccomp profile /srv/p.json: profile files are read only when the fleet is loaded from its file');
  });

  it('the Docker API: SecurityOpt seccomp=<JSON content> (what the docker CLI sends), unconfined; others refused by name', () => {
    const body = (SecurityOpt: string[], extra: Record<string, unknown> = {}) => ({ Image: 'host', Cmd: ['/bin/true'], HostConfig: { SecurityOpt }, ...extra });
    const spec = specFromCreateBody(body([`seccomp=${good}`, 'no-new-privileges']), 'c').spec;
    expect(spec.seccomp).to.deep.equal({ profile: parseSeccompProfile(good, 'x'), source: 'HostConfig.SecurityOpt[0]' });
    expect(spec.noNewPrivileges).to.equal(true);
    expect(specFromCreateBody(body(['seccomp:unconfined', 'no-new-privileges=false']), 'c').spec).to.deep.include({ seccomp: 'unconfined', noNewPrivileges: false });
    expect(specFromCreateBody(body(['seccomp=builtin']), 'c').spec.seccomp).to.equal('default');
    const refused = (b: unknown, field: string, message: string): void => {
      try {
        specFromCreateBody(b, 'c');
      } catch (err) {
        expect(err).to.be.instanceOf(CreateError);
        expect([(err as CreateError).field, (err as Error).message]).to.deep.equal([field, message]);
        return;
      }
      expect.fail(message);
    };
    refused(body(['no-new-privileges', 'seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]}']), 'HostConfig.SecurityOpt[1]',
      'seccomp profile HostConfig.SecurityOpt[1]: syscalls[0].action: unknown action "SCMP_ACT_FOO" (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)');
    refused(body(['seccomp={"defaultAction": ']), 'HostConfig.SecurityOpt[0]', 'seccomp profile HostConfig.SecurityOpt[0]:1:19: invalid JSON: expected a value, got the end of the file');
    refused(body(['apparmor=unconfined']), 'HostConfig.SecurityOpt[0]', 'HostConfig.SecurityOpt[0] "apparmor=unconfined" is not supported by skiff (seccomp=unconfined|builtin|<profile JSON> and no-new-privileges are)');
    refused(body(['label=disable']), 'HostConfig.SecurityOpt[0]', 'HostConfig.SecurityOpt[0] "label=disable" is not supported by skiff (seccomp=unconfined|builtin|<profile JSON> and no-new-privileges are)');
    refused(body(['seccomp=unconfined'], { Skiff: { Seccomp: 'default' } }), 'Skiff.Seccomp', 'Skiff.Seccomp and HostConfig.SecurityOpt seccomp= both set a seccomp profile; give one');
    refused(body([], { Skiff: { Seccomp: { profile: JSON.parse(good) as unknown, source: '/etc/p.json', extra: 1 } } }), 'seccomp.extra', 'seccomp.extra is not a known field (known: profile, source)');
    expect(specFromCreateBody(body([], { Skiff: { Seccomp: { profile: JSON.parse(good) as unknown, source: '/etc/p.json' } } }), 'c').spec.seccomp)
      .to.deep.equal({ profile: parseSeccompProfile(good, 'x'), source: '/etc/p.json' });
  });
});
