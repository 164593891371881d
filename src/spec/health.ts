// A container's health check: its type, Docker's defaults, and validation. Pure.
//
// The spec keeps Docker's `Test` as it was given (`CMD`, args… or `CMD-SHELL`, a command), so
// inspect shows what the user wrote, and every duration resolved to milliseconds: Docker's
// "0 means the default" is settled once, where the check is made (the Docker API mapping, the
// fleet file, `skiff run`), never while probing. `NONE` is not a check but the absence of one:
// the mapping turns it into `healthcheck: null` (it switches off an image's check).
import { describe, isObject, rejectUnknown, SpecError, str, type Json } from './fields.js';

export interface HealthcheckSpec {
  /** ['CMD', program, ...args] (run as it is) or ['CMD-SHELL', command] (run by /bin/sh -c) */
  test: string[];
  /** between the end of one probe and the start of the next */
  intervalMs: number;
  /** a probe still running after this is killed and counts as a failure */
  timeoutMs: number;
  /** failures in a row that make the container unhealthy */
  retries: number;
  /** from the start, failures do not count until this has passed (a success ends it early) */
  startPeriodMs: number;
  /** the interval while in the start period and still starting */
  startIntervalMs: number;
}

/** Docker's defaults (moby daemon/health.go). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 5_000 } as const;

/** Durations are held in a timer; Node's timers hold at most 2^31-1 ms (about 24.8 days). */
export const HEALTH_MAX_MS = 2 ** 31 - 1;
const MAX_RETRIES = 2 ** 31 - 1;

const KEYS = ['test', 'intervalMs', 'timeoutMs', 'retries', 'startPeriodMs', 'startIntervalMs'] as const;

/** What is wrong with a Test list, or null: shared by the spec, the Docker mapping and the fleet file. */
export function testProblem(test: readonly string[]): { index: number; message: string } | null {
  const kind = test[0];
  if (kind === undefined) return { index: -1, message: 'must not be empty: ["CMD", program, args...] or ["CMD-SHELL", command]' };
  if (kind === 'CMD') {
    if (test.length < 2) return { index: -1, message: 'CMD needs a program to run: ["CMD", program, args...]' };
    if (test[1] === '') return { index: 1, message: 'the program to run is an empty string' };
    return null;
  }
  if (kind === 'CMD-SHELL') {
    if (test.length !== 2) return { index: -1, message: `CMD-SHELL takes one command string: ["CMD-SHELL", command], got ${test.length - 1} items after it` };
    if (test[1]!.trim() === '') return { index: 1, message: 'the command is empty' };
    return null;
  }
  if (kind === 'NONE') return { index: 0, message: 'NONE means no health check; it cannot be combined with a check' };
  return { index: 0, message: `must be CMD or CMD-SHELL (or NONE to disable an image's check), got ${describe(kind)}` };
}

function duration(v: Json, field: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > HEALTH_MAX_MS) {
    throw new SpecError(field, `must be a whole number of milliseconds from ${min} to ${HEALTH_MAX_MS}, got ${describe(v)}`);
  }
  return v;
}

/** Validates a spec's `healthcheck` (null or absent: none) and fills in Docker's defaults. */
export function validateHealthcheck(v: Json, field = 'healthcheck'): HealthcheckSpec | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new SpecError(field, `must be an object or null, got ${describe(v)}`);
  rejectUnknown(v, KEYS, field);
  if (!Array.isArray(v.test)) throw new SpecError(`${field}.test`, `must be a list of strings, got ${describe(v.test)}`);
  const test = v.test.map((s, i) => str(s, `${field}.test[${i}]`));
  const problem = testProblem(test);
  if (problem) throw new SpecError(problem.index < 0 ? `${field}.test` : `${field}.test[${problem.index}]`, problem.message);
  let retries: number = HEALTH_DEFAULTS.retries;
  if (v.retries !== undefined) {
    if (typeof v.retries !== 'number' || !Number.isSafeInteger(v.retries) || v.retries < 1 || v.retries > MAX_RETRIES) {
      throw new SpecError(`${field}.retries`, `must be a whole number from 1 to ${MAX_RETRIES}, got ${describe(v.retries)}`);
    }
    retries = v.retries;
  }
  return {
    test,
    intervalMs: duration(v.intervalMs, `${field}.intervalMs`, 1, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: duration(v.timeoutMs, `${field}.timeoutMs`, 1, HEALTH_DEFAULTS.timeoutMs),
    retries,
    startPeriodMs: duration(v.startPeriodMs, `${field}.startPeriodMs`, 0, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: duration(v.startIntervalMs, `${field}.startIntervalMs`, 1, HEALTH_DEFAULTS.startIntervalMs),
  };
}

/** The probe's argv: CMD's as it is, CMD-SHELL's through /bin/sh -c (as Docker runs it). */
export function probeArgv(h: HealthcheckSpec): string[] {
  return h.test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', h.test[1]!] : h.test.slice(1);
}
