// Seccomp profiles in Docker's JSON format → a typed, normalized SeccompProfile. Pure: no I/O
// (the CLI and the fleet loader read profile files; skiffd only ever sees their content).
//
// The format is Docker's (moby profiles/seccomp): defaultAction, defaultErrnoRet, architectures
// or archMap, flags, and syscalls: [{ names | name, action, errnoRet, args: [{ index, value,
// valueTwo, op }], includes / excludes: { caps, arches, minKernel } }]. The normalized form is
// itself a valid profile (validating it again gives it back unchanged), is plain JSON (64-bit
// values beyond 2^53 are kept as decimal strings), and is what a spec stores, so that a restart
// does not depend on the file still existing.
//
// Every error names the profile and the exact place:
//   seccomp profile /x/p.json: syscalls[3].action: unknown action "SCMP_ACT_FOO" (known: …)
//   seccomp profile /x/p.json:4:7: invalid JSON: expected "," or "}", got "]"
// What it means when loaded is src/workers/seccomp-compile.ts's business.
import { normalizeCapability } from './capabilities.js';
import { describe } from './fields.js';

/** The actions skiff can load. SCMP_ACT_KILL is libseccomp's name for SCMP_ACT_KILL_THREAD. */
export const SECCOMP_ACTIONS = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG'] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

/** Actions of the format that skiff refuses, and why. */
const REFUSED_ACTIONS: Readonly<Record<string, string>> = {
  SCMP_ACT_TRACE: 'skiff runs no tracer, and a traced call with no tracer attached fails with ENOSYS; write SCMP_ACT_ERRNO with "errnoRet": 38 for that',
  SCMP_ACT_NOTIFY: 'skiff runs no seccomp notification agent (listenerPath)',
};

export const SECCOMP_OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ'] as const;
export type SeccompOp = (typeof SECCOMP_OPS)[number];

/** libseccomp's architecture names. skiff filters x86_64 only; calls from any other ABI are killed. */
export const SECCOMP_ARCHES = ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB'] as const;

/** seccomp(2) filter flags a profile may ask for, and their values (linux/seccomp.h). */
export const SECCOMP_FLAGS: Readonly<Record<string, number>> = {
  // all threads at once: the container's init has one thread when the filter is loaded, so it changes nothing
  SECCOMP_FILTER_FLAG_TSYNC: 0,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

/** The largest errno a filter may return (the kernel's MAX_ERRNO). */
export const MAX_ERRNO = 4095;
/** An unsigned 64-bit value: a number when it is exact as one, else its decimal digits. */
export type U64 = number | string;

export interface SeccompArg {
  /** the argument, 0 to 5 */
  index: number;
  /** compared with the argument; for SCMP_CMP_MASKED_EQ, the mask */
  value: U64;
  /** for SCMP_CMP_MASKED_EQ, what the masked argument must equal; otherwise unused (0) */
  valueTwo: U64;
  op: SeccompOp;
}

/** When a rule applies: `includes` needs all its caps, the arch among its arches, and a kernel this new; `excludes` any one. */
export interface SeccompFilter {
  caps: string[];
  arches: string[];
  minKernel: string | null;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  /** the errno SCMP_ACT_ERRNO returns (null: EPERM) */
  errnoRet: number | null;
  args: SeccompArg[];
  includes: SeccompFilter;
  excludes: SeccompFilter;
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** the errno a default SCMP_ACT_ERRNO returns (null: EPERM) */
  defaultErrnoRet: number | null;
  architectures: string[];
  archMap: { architecture: string; subArchitectures: string[] }[];
  flags: string[];
  syscalls: SeccompRule[];
}

/** What a spec's `seccomp` holds for a profile: the profile and where it was read from (for messages). */
export interface SeccompProfileSpec {
  profile: SeccompProfile;
  source: string;
}

export class SeccompProfileError extends Error {
  /** where in the profile, e.g. `syscalls[3].action`; '' for the profile as a whole */
  readonly path: string;
  readonly reason: string;
  /** `path` is a place in the profile, or `:line:column` for JSON syntax errors */
  constructor(readonly source: string, path: string, reason: string, options?: ErrorOptions) {
    super(`seccomp profile ${source}${path === '' ? '' : path.startsWith(':') ? path : `: ${path}`}: ${reason}`, options);
    this.name = 'SeccompProfileError';
    this.path = path;
    this.reason = reason;
  }
}

/** Profiles are a few tens of KiB; Docker's default is 20 KiB. */
export const MAX_PROFILE_BYTES = 1 << 20;

/** Parses and validates a profile file's text. */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  if (text.length > MAX_PROFILE_BYTES) throw new SeccompProfileError(source, '', `is larger than ${MAX_PROFILE_BYTES} bytes`);
  return validateSeccompProfile(parseJson(text, source), source);
}

// ---------------------------------------------------------------------------------------------
// JSON, read by hand: JSON.parse loses 64-bit integers (values like 0xffffffffffffffff are
// legitimate in args) and reports a byte offset, not a line and column.

const MAX_DEPTH = 32;

function parseJson(text: string, source: string): unknown {
  let i = 0;
  const fail = (reason: string, at = i): never => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new SeccompProfileError(source, `:${line}:${column}`, `invalid JSON: ${reason}`);
  };
  const got = (): string => (i >= text.length ? 'the end of the file' : JSON.stringify(text[i]));
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = (): string => {
    const start = i;
    i++; // the opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('a string is not closed', start);
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c < ' ') fail('a control character in a string must be escaped');
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && Object.hasOwn(simple, e)) {
        out += simple[e];
        i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        fail(`invalid escape ${JSON.stringify(text.slice(i, i + 2))} in a string`);
      }
    }
  };
  const number = (): number | bigint => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail(`expected a value, got ${got()}`);
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const value = (depth: number): unknown => {
    ws();
    if (depth > MAX_DEPTH) fail(`nested more than ${MAX_DEPTH} deep`);
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      ws();
      if (text[i] === '}') {
        i++;
        return o;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a key in double quotes, got ${got()}`);
        const key = string();
        ws();
        if (text[i] !== ':') fail(`expected ":" after the key ${JSON.stringify(key)}, got ${got()}`);
        i++;
        o[key] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return o;
        }
        fail(`expected "," or "}", got ${got()}`);
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        fail(`expected "," or "]", got ${got()}`);
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return number();
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const v = value(0);
  ws();
  if (i < text.length) fail(`unexpected ${got()} after the profile`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Validation: Docker's format (or skiff's normalized form of it) → SeccompProfile.

type Obj = Record<string, unknown>;


const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);
const U64_MAX = (1n << 64n) - 1n;

/** Validates a profile given as a JSON value (from parseSeccompProfile, or a stored spec). */
export function validateSeccompProfile(v: unknown, source: string): SeccompProfile {
  const fail = (path: string, reason: string): never => {
    throw new SeccompProfileError(source, path, reason);
  };
  const object = (x: unknown, path: string, known: readonly string[]): Obj => {
    if (!isObject(x)) return fail(path, `must be an object, got ${describe(x)}`);
    for (const k of Object.keys(x)) {
      if (!known.includes(k)) fail(join(path, k), `is not a known field (known: ${known.join(', ')})`);
    }
    return x;
  };
  const list = (x: unknown, path: string): unknown[] => {
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x)) return fail(path, `must be a list, got ${describe(x)}`);
    return x;
  };
  const string = (x: unknown, path: string): string => {
    if (typeof x !== 'string') return fail(path, `must be a string, got ${describe(x)}`);
    return x;
  };
  const strings = (x: unknown, path: string): string[] => list(x, path).map((s, i) => string(s, `${path}[${i}]`));
  const errno = (x: unknown, path: string): number | null => {
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_ERRNO) {
      return fail(path, `must be an errno number from 0 to ${MAX_ERRNO}, got ${describe(x)}`);
    }
    return x;
  };
  const action = (x: unknown, path: string): SeccompAction => {
    const s = string(x, path);
    if ((SECCOMP_ACTIONS as readonly string[]).includes(s)) return s as SeccompAction;
    if (Object.hasOwn(REFUSED_ACTIONS, s)) return fail(path, `${s} is not supported: ${REFUSED_ACTIONS[s]}`);
    return fail(path, `unknown action ${describe(s)} (known: ${SECCOMP_ACTIONS.join(', ')})`);
  };
  const u64 = (x: unknown, path: string): U64 => {
    let n: bigint | null = null;
    if (x === undefined || x === null) n = 0n;
    else if (typeof x === 'number' && Number.isSafeInteger(x)) n = BigInt(x);
    else if (typeof x === 'bigint') n = x;
    else if (typeof x === 'string' && /^[0-9]{1,20}$/.test(x)) n = BigInt(x);
    if (n === null || n < 0n || n > U64_MAX) return fail(path, `must be an integer from 0 to ${U64_MAX}, got ${describe(x)}`);
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
  };
  const arch = (x: unknown, path: string): string => {
    const s = string(x, path);
    if (!(SECCOMP_ARCHES as readonly string[]).includes(s)) fail(path, `unknown architecture ${describe(s)} (e.g. SCMP_ARCH_X86_64)`);
    return s;
  };
  const filter = (x: unknown, path: string, excludes: boolean): SeccompFilter => {
    if (x === undefined || x === null) return { caps: [], arches: [], minKernel: null };
    const o = object(x, path, ['caps', 'arches', 'minKernel']);
    const caps = strings(o.caps, join(path, 'caps')).map((c, i) => {
      const name = normalizeCapability(c);
      if (name === null || name === 'ALL') fail(`${join(path, 'caps')}[${i}]`, `is not a known capability (e.g. CAP_SYS_ADMIN), got ${describe(c)}`);
      return name!;
    });
    let minKernel: string | null = null;
    if (o.minKernel !== undefined && o.minKernel !== null && o.minKernel !== '') {
      if (excludes) fail(join(path, 'minKernel'), 'is not supported in excludes (as in Docker)');
      minKernel = string(o.minKernel, join(path, 'minKernel'));
      if (!/^\d+\.\d+(\.\d+)?$/.test(minKernel)) fail(join(path, 'minKernel'), `must be a kernel version such as "4.8", got ${describe(minKernel)}`);
    }
    return { caps, arches: strings(o.arches, join(path, 'arches')), minKernel };
  };
  const arg = (x: unknown, path: string): SeccompArg => {
    const o = object(x, path, ['index', 'value', 'valueTwo', 'op']);
    const index = o.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 5) {
      fail(join(path, 'index'), `must be an argument number from 0 to 5, got ${describe(index)}`);
    }
    if (o.op === undefined) fail(join(path, 'op'), `is required (one of ${SECCOMP_OPS.join(', ')})`);
    const op = string(o.op, join(path, 'op'));
    if (!(SECCOMP_OPS as readonly string[]).includes(op)) fail(join(path, 'op'), `unknown comparison ${describe(op)} (known: ${SECCOMP_OPS.join(', ')})`);
    return { index: index as number, value: u64(o.value, join(path, 'value')), valueTwo: u64(o.valueTwo, join(path, 'valueTwo')), op: op as SeccompOp };
  };
  const rule = (x: unknown, path: string): SeccompRule => {
    const o = object(x, path, ['names', 'name', 'action', 'errnoRet', 'args', 'includes', 'excludes', 'comment']);
    let names: string[];
    if (o.name !== undefined && o.name !== null && o.name !== '') {
      if (o.names !== undefined && o.names !== null) fail(path, 'has both name and names; use one of them');
      names = [string(o.name, join(path, 'name'))];
    } else {
      if (o.names === undefined || o.names === null) fail(path, 'has no names: list the syscalls it is about');
      names = strings(o.names, join(path, 'names'));
    }
    if (o.action === undefined) fail(join(path, 'action'), `is required (one of ${SECCOMP_ACTIONS.join(', ')})`);
    const act = action(o.action, join(path, 'action'));
    const errnoRet = errno(o.errnoRet, join(path, 'errnoRet'));
    if (errnoRet !== null && act !== 'SCMP_ACT_ERRNO') fail(join(path, 'errnoRet'), `is only for SCMP_ACT_ERRNO, not ${act}`);
    const args = list(o.args, join(path, 'args')).map((a, i) => arg(a, `${join(path, 'args')}[${i}]`));
    if (args.length > 6) fail(join(path, 'args'), `has ${args.length} comparisons; at most 6 are allowed`);
    if (o.comment !== undefined && o.comment !== null) string(o.comment, join(path, 'comment'));
    return { names, action: act, errnoRet, args, includes: filter(o.includes, join(path, 'includes'), false), excludes: filter(o.excludes, join(path, 'excludes'), true) };
  };

  const top = object(v, '', ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'flags', 'listenerPath',
    'listenerMetadata', 'syscalls']);
  if (top.defaultAction === undefined) fail('defaultAction', `is required (one of ${SECCOMP_ACTIONS.join(', ')})`);
  const defaultAction = action(top.defaultAction, 'defaultAction');
  const defaultErrnoRet = errno(top.defaultErrnoRet, 'defaultErrnoRet');
  if (top.listenerPath !== undefined && top.listenerPath !== null && top.listenerPath !== '') {
    fail('listenerPath', 'is not supported: skiff runs no seccomp notification agent');
  }
  if (top.listenerMetadata !== undefined && top.listenerMetadata !== null) string(top.listenerMetadata, 'listenerMetadata');
  const architectures = list(top.architectures, 'architectures').map((a, i) => arch(a, `architectures[${i}]`));
  const archMap = list(top.archMap, 'archMap').map((m, i) => {
    const path = `archMap[${i}]`;
    const o = object(m, path, ['architecture', 'subArchitectures']);
    return {
      architecture: arch(o.architecture, join(path, 'architecture')),
      subArchitectures: list(o.subArchitectures, join(path, 'subArchitectures')).map((a, j) => arch(a, `${join(path, 'subArchitectures')}[${j}]`)),
    };
  });
  const flags = strings(top.flags, 'flags');
  flags.forEach((f, i) => {
    if (!Object.hasOwn(SECCOMP_FLAGS, f)) fail(`flags[${i}]`, `unknown flag ${describe(f)} (known: ${Object.keys(SECCOMP_FLAGS).join(', ')})`);
  });
  const syscalls = list(top.syscalls, 'syscalls').map((r, i) => rule(r, `syscalls[${i}]`));
  return { defaultAction, defaultErrnoRet, architectures, archMap, flags, syscalls };
}
