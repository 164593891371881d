// Fuzz: mutated and random inputs to validateSpec and to the fleet parser. Each input either
// gives a value or is refused with the project's own error (SpecError naming a field,
// FleetError naming a line:column): any other exception (TypeError, RangeError, a stack
// overflow) is a bug, and so is an input that stalls the parser (ten seconds: a catastrophic
// backtrack, an expansion; a slow machine takes milliseconds longer). SKIFF_FUZZ_COUNT sets the
// number of inputs (`npm run fuzz` runs 10 000), SKIFF_FUZZ_SEED replays a run.
import { expect } from 'chai';
import { SpecError, validateSpec } from '../../src/spec/container.js';
import { FleetError, parseFleet } from '../../src/compose/fleet.js';
import {
  fuzzCount, fuzzFleetYaml, fuzzSeed, mutateJson, mutateText, preview, randomJson, reproduce, Rng, Slowest, stopwatch, type JsonOptions,
} from '../support/fuzz.js';

const SEED = fuzzSeed();
const COUNT = fuzzCount(2000);
/** One input checked for this long is a stall, not a slow moment of a shared machine. */
const STALL_MS = 10_000;

const SPEC_FIELDS = ['name', 'command', 'hostname', 'env', 'workdir', 'rootfs', 'image', 'mounts', 'network', 'tty', 'restart',
  'stopSignal', 'stopTimeout', 'console', 'labels', 'capabilities', 'noNewPrivileges', 'seccomp', 'type', 'source', 'target',
  'readOnly', 'size', 'buffer', 'log', 'logMax', 'add', 'drop'];

const SPEC_SEEDS: readonly unknown[] = [
  { name: 'web', command: ['/bin/true'] },
  {
    name: 'full_1.x', command: ['/bin/sh', '-c', 'exit 0'], hostname: 'full-1', env: ['A=1', 'PATH=/bin'], workdir: '/tmp',
    rootfs: 'host', image: null,
    mounts: [{ type: 'bind', source: '/tmp', target: '/data', readOnly: true }, { type: 'tmpfs', target: '/scratch', size: 65536 }],
    network: 'host', tty: true, restart: 'on-failure:3', stopSignal: 'INT', stopTimeout: 2,
    console: { buffer: 65536, log: '/tmp/x.log', logMax: 1048576 }, labels: { team: 'x' },
    capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, noNewPrivileges: false, seccomp: 'unconfined',
  },
  { name: 'img', command: ['/bin/echo', 'hi'], image: '/srv/image', env: { A: 'x', B: 2, C: null }, restart: 'always', stopSignal: 15 },
];

/** What went wrong with one input, or null when it behaved. */
type Check = (input: unknown) => string | null;

function fuzz(what: string, make: (rng: Rng) => unknown, check: Check): void {
  const failures: string[] = [];
  const slowest = new Slowest();
  const total = stopwatch();
  for (let i = 0; i < COUNT; i++) {
    const input = make(Rng.forInput(SEED, i));
    const elapsed = stopwatch();
    const problem = check(input);
    const ms = elapsed();
    slowest.note(ms, i, () => preview(input, 120));
    const stalled = ms > STALL_MS ? `stalled: ${(ms / 1000).toFixed(1)} s on one input` : null;
    if (problem === null && stalled === null) continue;
    failures.push(`${reproduce(SEED, i)}: ${problem ?? stalled}\n    input: ${preview(input)}`);
    if (failures.length >= 10) break;
  }
  console.log(`      ${what}: ${COUNT} inputs in ${(total() / 1000).toFixed(1)} s (seed ${SEED}); slowest ${slowest.toString()}`);
  expect(failures, `${failures.length} bad outcome(s) of ${what}:\n  ${failures.join('\n  ')}\n`).to.deep.equal([]);
}

function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message.slice(0, 300)}\n    ${(err.stack ?? '').split('\n').slice(1, 4).join('\n    ')}`;
  return `a non-Error was thrown: ${preview(err)}`;
}

// ---- validateSpec ---------------------------------------------------------------------

const specOpts: JsonOptions = { nonJson: true, keys: SPEC_FIELDS };

function makeSpecInput(rng: Rng): unknown {
  const seed = rng.pick(SPEC_SEEDS);
  const r = rng.int(10);
  if (r === 0) return randomJson(rng, 3, specOpts);
  if (r <= 2) {
    // bytes of the JSON text mutated, then parsed as skiffd would (only what still parses)
    try {
      return JSON.parse(mutateText(rng, JSON.stringify(seed)));
    } catch {
      return mutateJson(rng, seed, specOpts);
    }
  }
  return mutateJson(rng, seed, specOpts);
}

export function checkSpec(input: unknown): string | null {
  let spec;
  try {
    spec = validateSpec(input);
  } catch (err) {
    if (!(err instanceof SpecError)) return `threw ${describeThrown(err)}`;
    if (!err.field) return `SpecError without a field: ${err.message}`;
    if (!err.message.startsWith(`${err.field} `)) return `SpecError's message does not start with its field ${JSON.stringify(err.field)}: ${err.message}`;
    return null;
  }
  // What it accepts must be what the rest of skiff assumes of a spec.
  const bad = (why: string) => `accepted, but ${why}: ${preview(spec, 300)}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(spec.name)) return bad('the name is invalid');
  if (spec.command.length === 0 || spec.command.some((a) => typeof a !== 'string' || a.includes('\0'))) return bad('the command is not a list of strings without NUL');
  if (spec.env.some((e) => typeof e !== 'string' || e.includes('\0') || e.indexOf('=') <= 0)) return bad('env is not KEY=VALUE strings without NUL');
  for (const m of spec.mounts) {
    if (!m.target.startsWith('/') || m.target.split('/').includes('..')) return bad(`mount target ${m.target} is not absolute and ..-free`);
    if (m.type === 'bind' && (!m.source.startsWith('/') || m.source.split('/').includes('..'))) return bad('a bind source is not absolute and ..-free');
    if (m.type === 'tmpfs' && m.size !== null && !(Number.isSafeInteger(m.size) && m.size > 0)) return bad('a tmpfs size is not a positive integer');
  }
  if (Object.values(spec.labels).some((v) => typeof v !== 'string')) return bad('a label is not a string');
  if (!Number.isFinite(spec.stopTimeout)) return bad('stopTimeout is not finite');
  if (spec.restart.name === 'on-failure' && spec.restart.maxRetries !== null && !Number.isSafeInteger(spec.restart.maxRetries)) {
    return bad(`restart's maxRetries ${spec.restart.maxRetries} is not a safe integer`);
  }
  try {
    JSON.stringify(spec);
  } catch (err) {
    return bad(`it cannot be serialized (${(err as Error).message})`);
  }
  return null;
}

// ---- the fleet parser -----------------------------------------------------------------

export function checkFleet(text: unknown): string | null {
  const yaml = text as string;
  try {
    parseFleet(yaml, 'fleet.yaml', { baseDir: '/srv/fleets' });
    return null;
  } catch (err) {
    if (!(err instanceof FleetError)) return `threw ${describeThrown(err)}`;
    if (!err.message.startsWith('fleet.yaml')) return `FleetError not naming the file: ${err.message}`;
    if (err.line === null) {
      return /bytes is more than/.test(err.message) ? null : `FleetError without a line:column: ${err.message}`;
    }
    const lines = yaml.split(/\r\n|\r|\n/).length;
    if (err.line < 1 || err.line > lines + 1 || err.column === null || err.column < 1) {
      return `FleetError at ${err.line}:${err.column}, outside the file's ${lines} lines: ${err.message}`;
    }
    if (!err.message.startsWith(`fleet.yaml:${err.line}:${err.column}`)) return `FleetError's message does not start with its position: ${err.message}`;
    return null;
  }
}

describe('fuzz: specs and fleet files', function () {
  this.timeout(Math.max(60_000, COUNT * 60));

  it(`validateSpec: mutated and random specs give a spec or a SpecError naming a field, none stalling`, () => {
    fuzz('validateSpec', makeSpecInput, checkSpec);
  });

  it(`parseFleet: mutated and random fleet files give a fleet or a FleetError at a line:column, none stalling`, () => {
    fuzz('parseFleet', fuzzFleetYaml, checkFleet);
  });
});
