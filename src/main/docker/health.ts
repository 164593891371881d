// Docker's health check fields ↔ the spec's. Pure.
//
// In: Config.Healthcheck of a create body merged over the image's as moby merges them (an
// absent check takes the image's whole; an empty Test, a zero duration or zero Retries takes
// the image's value), then Docker's "0 means the default" settled and nanoseconds turned into
// milliseconds. Test NONE (or no Test at all) means no check. Out: Config.Healthcheck and
// State.Health as Docker shows them in inspect, and the "(healthy)" of a list entry's Status.
import { HEALTH_MAX_MS, testProblem, type HealthcheckSpec } from '../../spec/health.js';
import type { ContainerRecord } from '../lifecycle/record.js';
import { CreateError, shown } from './fields.js';

type Obj = Record<string, unknown>;

/** Docker's Healthcheck object (durations in nanoseconds). */
export interface DockerHealthcheck {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

const NS_PER_MS = 1_000_000;
const DURATIONS = [['Interval', 'intervalMs'], ['Timeout', 'timeoutMs'], ['StartPeriod', 'startPeriodMs'], ['StartInterval', 'startIntervalMs']] as const;

function object(v: unknown, field: string): Obj | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new CreateError(field, `${field} must be an object, got ${shown(v)}`);
  return v as Obj;
}

function test(v: unknown, field: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CreateError(field, `${field} must be a list of strings, got ${shown(v)}`);
  return v;
}

/** A Docker duration: whole nanoseconds, 0 (the default) or at least 1 ms, as moby requires. */
function nanoseconds(v: unknown, field: string): number {
  if (v === null || v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new CreateError(field, `${field} must be a whole number of nanoseconds, got ${shown(v)}`);
  if (v < 0) throw new CreateError(field, `${field} must not be negative, got ${v}`);
  if (v > 0 && v < NS_PER_MS) throw new CreateError(field, `${field} must be 0 (the default) or at least 1 ms (${NS_PER_MS} ns), got ${v}`);
  if (v > HEALTH_MAX_MS * NS_PER_MS) throw new CreateError(field, `${field} must be at most ${HEALTH_MAX_MS} ms (${HEALTH_MAX_MS * NS_PER_MS} ns), got ${v}`);
  return v;
}

function retries(v: unknown, field: string): number {
  if (v === null || v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new CreateError(field, `${field} must be a whole number, got ${shown(v)}`);
  if (v < 0) throw new CreateError(field, `${field} must not be negative, got ${v}`);
  if (v > 2 ** 31 - 1) throw new CreateError(field, `${field} must be at most ${2 ** 31 - 1}, got ${v}`);
  return v;
}

interface Read {
  test: string[];
  ns: Record<(typeof DURATIONS)[number][0], number>;
  retries: number;
}

function read(v: unknown, field: string): Read | null {
  const o = object(v, field);
  if (o === null) return null;
  const ns = Object.fromEntries(DURATIONS.map(([k]) => [k, nanoseconds(o[k], `${field}.${k}`)])) as Read['ns'];
  return { test: test(o.Test, `${field}.Test`), ns, retries: retries(o.Retries, `${field}.Retries`) };
}

/**
 * The spec's `healthcheck` from a create body's Healthcheck and the image's (null: no check).
 * Errors name the field, the image's as `image config Healthcheck.X`.
 */
export function healthcheckFromDocker(given: unknown, image: unknown): HealthcheckSpec | null {
  const mine = read(given, 'Healthcheck');
  const theirs = read(image, 'image config Healthcheck');
  const base = mine ?? theirs;
  if (base === null) return null;
  const from = mine === null ? 'image config Healthcheck' : 'Healthcheck';
  // moby's merge: what the body leaves empty or zero comes from the image.
  const t = base.test.length > 0 ? base.test : theirs?.test ?? [];
  const testField = base.test.length > 0 ? `${from}.Test` : 'image config Healthcheck.Test';
  if (t.length === 0 || (t.length === 1 && t[0] === 'NONE')) return null;
  const problem = testProblem(t);
  if (problem) throw new CreateError(testField, `${testField}${problem.index < 0 ? '' : `[${problem.index}]`} ${problem.message}`);
  const pick = (k: (typeof DURATIONS)[number][0]): number | undefined => {
    const v = base.ns[k] || theirs?.ns[k] || 0;
    return v === 0 ? undefined : Math.round(v / NS_PER_MS);
  };
  const spec: Obj = { test: t };
  for (const [docker, key] of DURATIONS) {
    const ms = pick(docker);
    if (ms !== undefined) spec[key] = ms;
  }
  const n = base.retries || theirs?.retries || 0;
  if (n > 0) spec.retries = n;
  return spec as unknown as HealthcheckSpec;
}

/** Config.Healthcheck in inspect: the check as skiff runs it, every default written out. */
export function dockerHealthcheck(h: HealthcheckSpec | null): DockerHealthcheck | undefined {
  if (h === null) return undefined;
  return {
    Test: h.test,
    Interval: h.intervalMs * NS_PER_MS,
    Timeout: h.timeoutMs * NS_PER_MS,
    StartPeriod: h.startPeriodMs * NS_PER_MS,
    StartInterval: h.startIntervalMs * NS_PER_MS,
    Retries: h.retries,
  };
}

/** State.Health in inspect (absent for a container without a check, as in Docker). */
export function dockerHealth(r: ContainerRecord): object | undefined {
  if (r.spec.healthcheck === null) return undefined;
  const h = r.health;
  return {
    Status: h?.status ?? 'starting',
    FailingStreak: h?.failingStreak ?? 0,
    Log: (h?.log ?? []).map((e) => ({ Start: e.start, End: e.end, ExitCode: e.exitCode, Output: e.output })),
  };
}

/** Docker's health filter value of a container: none, starting, healthy or unhealthy. */
export function healthFilterValue(r: ContainerRecord): string {
  if (r.spec.healthcheck === null) return 'none';
  return r.health?.status ?? 'starting';
}

/** What follows "Up 5 minutes" in a running container's Status: " (healthy)", " (health: starting)", " (unhealthy)". */
export function healthSuffix(r: ContainerRecord): string {
  if (r.spec.healthcheck === null) return '';
  const s = r.health?.status ?? 'starting';
  return s === 'starting' ? ' (health: starting)' : ` (${s})`;
}
