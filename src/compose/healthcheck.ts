// A service's `healthcheck:` (Compose's keys) → the spec's healthcheck input. Compose's
// `test` is a string (run by /bin/sh -c, as CMD-SHELL) or Docker's list (`[CMD, prog, args…]`,
// `[CMD-SHELL, command]`, `[NONE]`); durations are Go's (10s, 1m30s, 500ms) and 0 means
// Docker's default, as does `retries: 0`; `disable: true` is `[NONE]`. validateSpec fills in
// the defaults; the Test forms are checked by the rule the Docker API uses (spec/health.ts).
import { HEALTH_MAX_MS, testProblem } from '../spec/health.js';
import { HEALTHCHECK_KEYS } from './keys.js';
import { readDuration } from './values.js';
import type { YVal } from './yaml-view.js';

/** validateSpec's `healthcheck` input, or null for none (absent, disabled or NONE). */
export type HealthcheckInput = Record<string, unknown> | null;

const DURATIONS = [['interval', 'intervalMs'], ['timeout', 'timeoutMs'], ['start_period', 'startPeriodMs'], ['start_interval', 'startIntervalMs']] as const;

/** Milliseconds; a duration that is negative or under a millisecond (but not 0) is refused where it is written. */
function milliseconds(v: YVal): number {
  if (typeof v.scalar === 'string' && v.scalar.trim().startsWith('-')) v.fail(`a duration must not be negative, got ${v.describe()}`);
  const ms = readDuration(v) * 1000;
  if (ms !== 0 && ms < 1) v.fail(`expected 0 (the default) or at least 1ms, got ${v.describe()}`);
  if (ms > HEALTH_MAX_MS) v.fail(`expected at most ${HEALTH_MAX_MS}ms (about 24 days), got ${v.describe()}`);
  return Math.round(ms);
}

function readTest(v: YVal): string[] {
  if (v.kind !== 'list') {
    const command = v.string('a command (run by /bin/sh -c) or a list such as [CMD, prog, arg]');
    if (command.trim() === '') v.fail('the command is empty');
    return ['CMD-SHELL', command];
  }
  const items = v.list();
  const test = items.map((item) => item.text('a string'));
  if (test.length === 1 && test[0] === 'NONE') return test;
  const problem = testProblem(test);
  if (problem) (problem.index >= 0 ? items[problem.index]! : v).fail(problem.message);
  return test;
}

/** Records where each part came from in `origins` (`healthcheck`, `healthcheck.intervalMs`, …) for validateSpec's errors. */
export function readHealthcheck(v: YVal, origins: Map<string, YVal>): HealthcheckInput {
  origins.set('healthcheck', v);
  const m = v.map().check(HEALTHCHECK_KEYS);
  const disable = m.get('disable');
  const testVal = m.get('test');
  if (disable?.boolean()) {
    const other = m.entries.find((e) => e.key !== 'disable' && !e.value.isNull);
    if (other) other.keyVal.fail('a disabled health check (disable: true) takes no other settings');
    return null;
  }
  if (!testVal) return v.fail('has no test: give the command to run (test: curl -f http://localhost/ || exit 1) or disable: true');
  const test = readTest(testVal);
  origins.set('healthcheck.test', testVal);
  if (test[0] === 'NONE') {
    const other = m.entries.find((e) => e.key !== 'test' && !e.value.isNull);
    if (other) other.keyVal.fail('test: [NONE] means no health check; it takes no other settings');
    return null;
  }
  const out: Record<string, unknown> = { test };
  for (const [key, field] of DURATIONS) {
    const d = m.get(key);
    if (!d) continue;
    origins.set(`healthcheck.${field}`, d);
    const ms = milliseconds(d);
    if (ms > 0) out[field] = ms;
  }
  const retries = m.get('retries');
  if (retries) {
    origins.set('healthcheck.retries', retries);
    const n = retries.integer('a whole number of failures');
    if (n < 0) retries.fail(`must not be negative, got ${n}`);
    if (n > 0) out.retries = n;
  }
  return out;
}
