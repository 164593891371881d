// Seeded fuzzing for the spec validator, the fleet parser and skiffd's API: a small PRNG and
// mutators that turn valid inputs into nearly-valid and hostile ones. Every input is made by
// its own generator, seeded from the run's seed and the input's index, so one input can be
// made again alone: a failure prints `SKIFF_FUZZ_SEED=<seed> (input <i>)`.
//   SKIFF_FUZZ_SEED   the run's seed (default: a fresh one, printed on failure)
//   SKIFF_FUZZ_COUNT  inputs per test (default: a number small enough for CI)

/** mulberry32: 32 bits of state, fast, and plenty for choosing mutations. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** The generator of input `index` of the run with `seed`. */
  static forInput(seed: number, index: number): Rng {
    return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  }

  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

export function fuzzSeed(): number {
  const env = process.env.SKIFF_FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n)) throw new Error(`SKIFF_FUZZ_SEED must be an integer, got ${JSON.stringify(env)}`);
    return n >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export function fuzzCount(ciDefault: number): number {
  const env = process.env.SKIFF_FUZZ_COUNT;
  if (env === undefined || env === '') return ciDefault;
  const n = Number(env);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`SKIFF_FUZZ_COUNT must be a positive integer, got ${JSON.stringify(env)}`);
  return n;
}

/** How to make one failing input again. */
export function reproduce(seed: number, index: number): string {
  return `SKIFF_FUZZ_SEED=${seed} (input ${index})`;
}

/** A short, printable view of an input for failure messages. */
export function preview(v: unknown, max = 400): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));
  } catch (err) {
    s = `(unprintable: ${(err as Error).message})`;
  }
  s = JSON.stringify(s ?? String(v));
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

// ---- values that break things ---------------------------------------------------------

export const NASTY_STRINGS: readonly string[] = [
  '', ' ', '.', '..', '../..', '/..', '/a/../b', '/', '//', '///x//', '/proc', '/proc/self/fd/3', '/proc/self/fd/3/..',
  '/dev/null', '/sys/kernel', '/tmp', '/tmp/', 'host', '/bin/true', 'relative/path', '~', '~/x', './x', '../x',
  '\u0000', 'a\u0000b', '/bin/true\u0000', '\n', '\r\n', '\t', 'a:b', 'a:b:c:d', '/a:/b:ro', '/a:/b:rx', ':', ',', 'a,b',
  '=', 'A=', '=B', 'A=B', 'PATH=', 'lowerdir=/x', '%s%n%x', '${HOME}', '$(id)', '`id`', "'", '"', '\\', '{}', '[]',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then',
  'no', 'always', 'on-failure', 'on-failure:0', 'on-failure:-1', 'on-failure:99999999999999999999', 'unless-stopped',
  'SIGTERM', 'TERM', 'SIG', 'SIGRTMIN', '0', '65', '-1', '9', 'sigkill', 'ALL', 'CAP_SYS_ADMIN', 'NET_ADMIN', 'CAP_',
  'none', 'bridge', 'container:x', 'default', 'unconfined', 'bind', 'tmpfs', 'volume',
  'true', 'false', 'null', 'NaN', 'Infinity', '-0', '1e999', '0x10', '1_000', '64k', '1.5m', '-5k', '99999999999999999999g',
  '10s', '1m30s', '-1s', '1e9h', 'size=64m', 'size=-1', 'size=99999999999999999999999', 'mode=1777', 'size=64m,uid=0',
  '\u202e', '\ud800', '\udfff', '\uffff', '\ufeff', '😀', 'é', 'ǅ', 'İ', 'ß', '\u0085', '\u2028',
  'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(255), 'a'.repeat(4001), `/${'a/'.repeat(2100)}`, 'x'.repeat(70_000),
];

export const NASTY_NUMBERS: readonly number[] = [
  0, -0, 1, -1, 2, 10, 63, 64, 86400, 86401, 0.5, -0.5, 1.5, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32,
  -(2 ** 31), 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE,
  1 << 30, (1 << 30) + 1,
];

/** Not expressible in JSON: only for inputs handed to a function directly. */
export const NON_JSON_NUMBERS: readonly number[] = [NaN, Infinity, -Infinity];

export const PROTO_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

/** Sets an own property, even `__proto__` (as JSON.parse does), never the prototype. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

export interface JsonOptions {
  /** allow NaN and ±Infinity (direct calls only: JSON has no way to write them) */
  nonJson?: boolean;
  /** keys to prefer in random objects, e.g. a spec's field names */
  keys?: readonly string[];
}

export function randomString(rng: Rng): string {
  if (rng.chance(0.6)) return rng.pick(NASTY_STRINGS);
  const len = rng.pick([0, 1, 3, 8, 20, 100]);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rng.int(10);
    s += r < 6 ? String.fromCharCode(0x20 + rng.int(95)) : r < 8 ? String.fromCharCode(rng.int(0x20)) : String.fromCharCode(rng.int(0x10000));
  }
  return s;
}

export function randomNumber(rng: Rng, opts: JsonOptions = {}): number {
  if (opts.nonJson && rng.chance(0.1)) return rng.pick(NON_JSON_NUMBERS);
  if (rng.chance(0.7)) return rng.pick(NASTY_NUMBERS);
  return rng.chance(0.5) ? rng.int(1000) - 500 : (rng.u32() / 7) * (rng.chance(0.5) ? -1 : 1);
}

/** A random JSON value nested at most `depth` levels. */
export function randomJson(rng: Rng, depth = 3, opts: JsonOptions = {}): unknown {
  const kinds = depth <= 0 ? 4 : 6;
  switch (rng.int(kinds)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return randomNumber(rng, opts);
    case 3: return randomString(rng);
    case 4: {
      const n = rng.pick([0, 1, 2, 3, 5]);
      return Array.from({ length: n }, () => randomJson(rng, depth - 1, opts));
    }
    default: {
      const o: Record<string, unknown> = {};
      const n = rng.pick([0, 1, 2, 4]);
      for (let i = 0; i < n; i++) {
        const key = opts.keys && rng.chance(0.6) ? rng.pick(opts.keys) : rng.chance(0.2) ? rng.pick(PROTO_KEYS) : randomString(rng).slice(0, 30);
        setOwn(o, key, randomJson(rng, depth - 1, opts));
      }
      return o;
    }
  }
}

// ---- structural mutation of JSON values -------------------------------------------------

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

/** A deep copy that keeps own `__proto__` keys as keys. */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return (v as unknown[]).map((x) => clone(x)) as T;
  if (isContainer(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setOwn(o, k, clone(x));
    return o as T;
  }
  return v;
}

/** Every object and array in `root` (itself included), up to a bound. */
function containers(root: unknown, out: Container[] = [], depth = 0): Container[] {
  if (!isContainer(root) || out.length > 200 || depth > 20) return out;
  out.push(root);
  for (const x of Object.values(root)) containers(x, out, depth + 1);
  return out;
}

/** A value of another type than `v`, often one close to a valid one. */
function swapType(rng: Rng, v: unknown, opts: JsonOptions): unknown {
  switch (typeof v) {
    case 'string': return rng.pick<unknown>([v.length, [v], { v }, v === 'true', Number(v), null]);
    case 'number': return rng.pick<unknown>([String(v), [v], v !== 0, null, { n: v }]);
    case 'boolean': return rng.pick<unknown>([String(v), v ? 1 : 0, [v], null]);
    case 'bigint':
    case 'function':
    case 'object':
    case 'symbol':
    case 'undefined':
      // Not v.join(): an item may be an object whose own toString is not a function.
      if (Array.isArray(v)) return rng.pick<unknown>([v[0] ?? null, v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '), Object.fromEntries(v.entries()), v.length]);
      if (v === null) return rng.pick<unknown>([0, '', false, [], {}]);
      return rng.pick<unknown>([Object.values(v as object), Object.keys(v as object)[0] ?? '', null, randomJson(rng, 1, opts)]);
  }
}

function nest(rng: Rng, v: unknown, levels: number): unknown {
  let out = v;
  for (let i = 0; i < levels; i++) out = rng.chance(0.5) ? [out] : { [rng.pick(['a', 'x', '__proto__'])]: out };
  return out;
}

/** One mutation of one place in `root` (which it changes); returns the new root. */
function mutateOnce(rng: Rng, root: unknown, opts: JsonOptions): unknown {
  const all = containers(root);
  if (all.length === 0 || rng.chance(0.03)) return rng.chance(0.5) ? randomJson(rng, 3, opts) : swapType(rng, root, opts);
  const c = rng.pick(all);
  const keys = Object.keys(c);
  const key = keys.length > 0 ? rng.pick(keys) : null;
  const get = (k: string) => (c as Record<string, unknown>)[k];
  const set = (k: string, v: unknown) => {
    if (Array.isArray(c)) c[Number(k)] = v;
    else setOwn(c, k, v);
  };
  const op = rng.int(14);
  if (key === null || op === 0) {
    // add a key or an item
    if (Array.isArray(c)) c.push(randomJson(rng, 2, opts));
    else setOwn(c, opts.keys && rng.chance(0.5) ? rng.pick(opts.keys) : rng.pick([...PROTO_KEYS, randomString(rng).slice(0, 20)]), randomJson(rng, 2, opts));
    return root;
  }
  const v = get(key);
  switch (op) {
    case 1: // drop
      if (Array.isArray(c)) c.splice(Number(key), 1);
      else delete (c)[key];
      return root;
    case 2: // duplicate (an item, or a key's value under another key)
      if (Array.isArray(c)) c.splice(Number(key), 0, clone(v));
      else setOwn(c, rng.pick(opts.keys ?? keys), clone(v));
      return root;
    case 3: { // rename
      if (Array.isArray(c)) return root;
      delete (c)[key];
      const renamed = rng.pick([key.toLowerCase(), key.toUpperCase(), `${key} `, `${key}\u0000`, `x-${key}`, key.slice(1), rng.pick(PROTO_KEYS)]);
      setOwn(c, renamed, v);
      return root;
    }
    case 4: set(key, swapType(rng, v, opts)); return root;
    case 5: set(key, randomNumber(rng, opts)); return root;
    case 6: set(key, randomString(rng)); return root;
    case 7: set(key, typeof v === 'string' ? mutateString(rng, v) : randomString(rng)); return root;
    case 8: set(key, nest(rng, v, rng.pick([2, 10, 100, 1000]))); return root;
    case 9: { // a very long array
      const item: unknown = Array.isArray(v) && v.length > 0 ? (v as unknown[])[0] : v;
      // Bounded in bytes too: ten thousand copies of a 70 kB string would be 700 MB.
      const size = (JSON.stringify(item) ?? 'null').length;
      const n = Math.min(rng.pick([100, 1000, 10_000]), Math.max(2, Math.floor(200_000 / size)));
      set(key, Array.from({ length: n }, () => clone(item)));
      return root;
    }
    case 10: set(key, null); return root;
    case 11: set(key, randomJson(rng, 3, opts)); return root;
    case 12: set(key, Array.isArray(v) ? [] : isContainer(v) ? {} : ''); return root;
    default: set(key, typeof v === 'number' ? rng.pick([-v, v + 1, v * 1e6, v + 0.5]) : randomNumber(rng, opts)); return root;
  }
}

/** `1 + k` mutations of a deep copy of `seed`. */
export function mutateJson(rng: Rng, seed: unknown, opts: JsonOptions = {}): unknown {
  let root = clone(seed);
  const n = 1 + (rng.chance(0.5) ? 0 : rng.int(4));
  for (let i = 0; i < n; i++) root = mutateOnce(rng, root, opts);
  return root;
}

export function mutateString(rng: Rng, s: string): string {
  switch (rng.int(8)) {
    case 0: return s.slice(0, rng.int(s.length + 1));
    case 1: return s + rng.pick(NASTY_STRINGS);
    case 2: return rng.pick(NASTY_STRINGS) + s;
    case 3: { const i = rng.int(s.length + 1); return s.slice(0, i) + rng.pick(['\u0000', '/..', '..', ':', ',', '=', ' ', '\n', '😀']) + s.slice(i); }
    case 4: return s.repeat(rng.pick([2, 100, 3000]));
    case 5: return s.toUpperCase();
    case 6: return s.replace(/\//g, rng.pick(['//', '/./', '/../', '\\']));
    default: return rng.pick(NASTY_STRINGS);
  }
}

// ---- byte-level mutation of serialized text ---------------------------------------------

const SNIPPETS = ['{', '}', '[', ']', '"', ',', ':', '\\', '\\u', '\\ud800', '\u0000', 'null', 'NaN', '1e999', '-', '01',
  '\n', '\t', ' ', '&a', '*a', '<<: ', '!!js/function ', '!!binary ', '!!set ', '? ', '- ', '---\n', '...\n', '|', '>', '#', '%YAML 1.1\n', '\ufeff', "'"];

/** Truncates, flips, inserts, deletes or repeats bytes of `text` (1 + k times). */
export function mutateText(rng: Rng, text: string): string {
  let t = text;
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    const i = rng.int(t.length + 1);
    switch (rng.int(7)) {
      case 0: t = t.slice(0, i); break;
      case 1: t = t.slice(0, i) + String.fromCharCode((t.charCodeAt(i) || 0) ^ (1 << rng.int(8))) + t.slice(i + 1); break;
      case 2: t = t.slice(0, i) + rng.pick(SNIPPETS) + t.slice(i); break;
      case 3: t = t.slice(0, i) + t.slice(i + 1 + rng.int(20)); break;
      case 4: { const j = Math.min(t.length, i + 1 + rng.int(40)); t = t.slice(0, j) + t.slice(i, j) + t.slice(j); break; }
      case 5: t = t.slice(0, i) + String.fromCharCode(rng.int(0x80)) + t.slice(i); break;
      default: t = t.slice(0, i) + rng.pick(NASTY_STRINGS).slice(0, 300) + t.slice(i); break;
    }
  }
  return t;
}

// ---- YAML fleet files ---------------------------------------------------------------------

/** Valid fleet files that between them use most of what the parser reads. */
export const FLEET_SEEDS: readonly string[] = [
  'services:\n  web:\n    image: host\n    command: [/bin/true]\n',
  [
    'name: demo',
    'x-base: &base',
    '  image: host',
    '  stop_grace_period: 2s',
    '  x-skiff:',
    '    console: { buffer: 64KiB, logMax: 1m }',
    'services:',
    '  web:',
    '    <<: *base',
    '    deploy:',
    '      replicas: 3',
    '    restart: unless-stopped',
    '    command: /bin/sh -c \'echo "$SKIFF_REPLICA"; exit 0\'',
    '    environment:',
    '      A: 1',
    '      B: "two"',
    '    labels: [team=x, tier]',
    '    volumes:',
    '      - /tmp:/data:ro',
    '      - type: tmpfs',
    '        target: /scratch',
    '        tmpfs: { size: 1m }',
    '    tmpfs: /run:size=64m',
    '  worker:',
    '    <<: *base',
    '    depends_on:',
    '      web:',
    '        condition: service_started',
    '    scale: 2',
    '    entrypoint: [/bin/sh, -c]',
    '    command: ["exit 0"]',
    '    working_dir: /tmp',
    '    hostname: worker',
    '    stop_signal: SIGINT',
    '    network_mode: host',
    '    tty: true',
    '    x-skiff:',
    '      job: true',
    '      console: { log: /tmp/skiff-fuzz-logs }',
  ].join('\n'),
  [
    'name: jobs',
    'services:',
    '  prepare:',
    '    image: host',
    '    command: [/bin/true]',
    '    x-skiff: { job: true }',
    '  probe:',
    '    image: /srv/image',
    '    depends_on: { prepare: { condition: service_completed_successfully } }',
    '    deploy: { replicas: 5 }',
    '    restart: "on-failure:3"',
    '    environment: [A=1, B=2]',
    '    command: [/bin/echo, hi]',
  ].join('\n'),
];

const YAML_KEYS = ['image', 'command', 'entrypoint', 'environment', 'labels', 'volumes', 'tmpfs', 'deploy', 'replicas', 'scale',
  'depends_on', 'restart', 'stop_signal', 'stop_grace_period', 'network_mode', 'tty', 'working_dir', 'hostname', 'x-skiff',
  'job', 'console', 'buffer', 'log', 'logMax', 'condition', 'required', 'type', 'source', 'target', 'read_only', 'size',
  'name', 'services', 'ports', 'build', '<<', '__proto__', 'constructor', 'x-a'];

function yamlScalar(rng: Rng): string {
  switch (rng.int(9)) {
    case 0: return JSON.stringify(randomString(rng));
    case 1: return String(rng.pick(NASTY_NUMBERS));
    case 2: return rng.pick(['~', 'null', 'true', 'no', 'off', 'yes', 'on', '.inf', '-.inf', '.nan', '0o17', '0x1F', '1_000', '1e999', '+12']);
    case 3: return `${rng.pick(['!!js/function', '!!js/regexp', '!!js/undefined', '!!binary', '!!set', '!!omap', '!!timestamp', '!!int', '!!float', '!!str', '!!map', '!reset', '!override', '!custom'])} ${rng.pick(['"function () {}"', 'x', '1', '2001-12-14'])}`;
    case 4: return `"${'x'.repeat(rng.chance(0.05) ? 200_000 : rng.pick([100, 5000]))}"`;
    case 5: return rng.pick(['|\n  a\n  b', '>-\n  folded\n  text', "'it''s'", '"\\u0000"', '"\\ud800"', '"tab\\there"']);
    case 6: return rng.pick(['[]', '{}', '[a, [b, [c]]]', '{a: {b: {c: 1}}}', '[/bin/true]', '{ replicas: 2 }']);
    case 7: return `*${rng.pick(['a', 'b', 'base', 'nope'])}`;
    default: return rng.pick(['host', '/bin/true', '/tmp:/x', 'web', 'SIGTERM', '2s', '64k', 'service_started']);
  }
}

function yamlNode(rng: Rng, depth: number, indent: string): string {
  const anchor = rng.chance(0.15) ? `&${rng.pick(['a', 'b', 'base'])} ` : '';
  if (depth <= 0 || rng.chance(0.35)) return ` ${anchor}${yamlScalar(rng)}`;
  const n = 1 + rng.int(4);
  const inner = `${indent}  `;
  const lines: string[] = [];
  if (rng.chance(0.4)) {
    for (let i = 0; i < n; i++) lines.push(`${inner}-${yamlNode(rng, depth - 1, `${inner}  `)}`);
  } else {
    for (let i = 0; i < n; i++) {
      const key = rng.chance(0.8) ? rng.pick(YAML_KEYS) : yamlScalar(rng).split('\n')[0]!.slice(0, 40);
      lines.push(key === '<<' ? `${inner}<<: *${rng.pick(['a', 'b', 'base'])}` : `${inner}${key}:${yamlNode(rng, depth - 1, inner)}`);
    }
  }
  return ` ${anchor}\n${lines.join('\n')}`.replace(/^ \n/, '\n');
}

/** A random YAML document shaped a little like a fleet file. */
export function randomFleetYaml(rng: Rng): string {
  const parts: string[] = [];
  if (rng.chance(0.3)) parts.push(`name:${yamlNode(rng, 0, '')}`);
  if (rng.chance(0.3)) parts.push(`x-defaults: &base\n  image: host\n  command: [/bin/true]`);
  if (rng.chance(0.1)) {
    // an alias bomb: each level doubles the one before
    const levels = 8 + rng.int(20);
    parts.push('x-bomb:');
    parts.push('  l0: &l0 [x, x]');
    for (let i = 1; i < levels; i++) parts.push(`  l${i}: &l${i} [*l${i - 1}, *l${i - 1}]`);
  }
  const services = 1 + rng.int(3);
  parts.push('services:');
  for (let i = 0; i < services; i++) {
    parts.push(`  ${rng.chance(0.8) ? `s${i}` : yamlScalar(rng).split('\n')[0]}:${yamlNode(rng, 3, '  ')}`);
  }
  return `${parts.join('\n')}\n`;
}

/** Line-level edits that YAML is sensitive to: indentation, tabs, duplicated and swapped lines. */
export function mutateYamlLines(rng: Rng, text: string): string {
  const lines = text.split('\n');
  const n = 1 + rng.int(3);
  for (let k = 0; k < n && lines.length > 0; k++) {
    const i = rng.int(lines.length);
    const line = lines[i]!;
    switch (rng.int(9)) {
      case 0: lines[i] = ` ${line}`; break;
      case 1: lines[i] = line.replace(/^ {1,2}/, ''); break;
      case 2: lines[i] = line.replace(/^ /, '\t'); break;
      case 3: lines.splice(i, 0, line); break;
      case 4: { const j = rng.int(lines.length); lines[i] = lines[j]!; lines[j] = line; break; }
      case 5: lines.splice(i, 1); break;
      case 6: lines[i] = line.replace(/:(\s|$)/, `: ${rng.chance(0.5) ? '&a ' : ''}`) + (rng.chance(0.5) ? ` ${yamlScalar(rng)}` : ''); break;
      case 7: lines[i] = line.replace(/(\S.*?):\s(.+)$/, (_m, key: string) => `${key}: ${yamlScalar(rng)}`); break;
      default: lines.splice(i, 0, `${line.match(/^\s*/)?.[0] ?? ''}${rng.pick(YAML_KEYS)}:${yamlNode(rng, 2, line.match(/^\s*/)?.[0] ?? '')}`); break;
    }
  }
  return lines.join('\n');
}

/** One fleet file: a seed mutated by lines or bytes, or a random document. */
export function fuzzFleetYaml(rng: Rng): string {
  const r = rng.int(10);
  if (r < 3) return randomFleetYaml(rng);
  const seed = rng.pick(FLEET_SEEDS);
  if (r < 6) return mutateYamlLines(rng, seed);
  if (r < 9) return mutateText(rng, seed);
  return mutateText(rng, mutateYamlLines(rng, seed));
}

// ---- timing (printed in the report, never judged: a shared machine's speed is no verdict) ----

/** Starts a clock; the function returned gives the milliseconds since. */
export function stopwatch(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}

/** The slowest inputs of a run, for the report. */
export class Slowest {
  worst: { ms: number; index: number; what: string } = { ms: 0, index: -1, what: '' };

  note(ms: number, index: number, what: () => string): void {
    if (ms > this.worst.ms) this.worst = { ms, index, what: what() };
  }

  toString(): string {
    return `${this.worst.ms.toFixed(1)} ms (${this.worst.index >= 0 ? `input ${this.worst.index}: ` : ''}${this.worst.what})`;
  }
}
