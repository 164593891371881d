// Readers for the value shapes Compose uses in many places: argv, environment, labels,
// sizes and durations. Each takes a YVal and fails at it with the path and what it got.
import { parseDuration } from './duration.js';
import { ShellWordsError, shellSplit } from './shell-words.js';
import { parseSize } from './size.js';
import type { YVal } from './yaml-view.js';

/** `command`/`entrypoint`: a list of strings, or one string split like a shell would. */
export function readArgv(v: YVal): string[] {
  if (v.kind === 'list') return v.list().map((item) => item.text('a string'));
  const s = v.string('a list of strings or a command line');
  try {
    return shellSplit(s);
  } catch (err) {
    if (err instanceof ShellWordsError) return v.fail(`${err.message} at character ${err.index + 1} of ${v.describe()}`);
    throw err;
  }
}

/**
 * `environment` as ordered KEY=VALUE strings, later keys winning. Compose's map form
 * (`KEY: value`) and list form (`- KEY=value`) are both read. A variable without a value
 * means "take it from the host's environment" to Compose; skiff sends fleets to a daemon
 * whose environment is not the user's, so that is refused rather than guessed.
 */
export function readEnvironment(v: YVal): Map<string, { value: string; from: YVal }> {
  const env = new Map<string, { value: string; from: YVal }>();
  const passthrough = (at: YVal, key: string): never =>
    at.fail(`${key} has no value; Compose would copy it from the host, which skiff does not do yet (write ${key}=value)`);
  if (v.kind === 'list') {
    for (const item of v.list()) {
      const s = item.string('KEY=VALUE');
      const eq = s.indexOf('=');
      if (eq < 0) passthrough(item, s);
      if (eq === 0) item.fail(`expected KEY=VALUE, got ${item.describe()}`);
      env.delete(s.slice(0, eq));
      env.set(s.slice(0, eq), { value: s.slice(eq + 1), from: item });
    }
    return env;
  }
  for (const { key, keyVal, value } of v.map().entries) {
    if (key.includes('=')) keyVal.fail('a variable name cannot contain "="');
    if (value.isNull) passthrough(value, key);
    env.set(key, { value: value.text('a string, number or boolean'), from: value });
  }
  return env;
}

/** `labels`: a map, or a list of `key=value` (a bare `key` has the empty value, as in Compose). */
export function readLabels(v: YVal): Map<string, { value: string; from: YVal }> {
  const labels = new Map<string, { value: string; from: YVal }>();
  if (v.kind === 'list') {
    for (const item of v.list()) {
      const s = item.string('key=value');
      const eq = s.indexOf('=');
      const key = eq < 0 ? s : s.slice(0, eq);
      if (!key) item.fail(`expected key=value, got ${item.describe()}`);
      labels.set(key, { value: eq < 0 ? '' : s.slice(eq + 1), from: item });
    }
    return labels;
  }
  for (const { key, keyVal, value } of v.map().entries) {
    labels.set(key, { value: value.isNull ? '' : value.text('a string'), from: keyVal });
  }
  return labels;
}

/** A byte size: an integer, or a string with a unit (`64k`, `256KiB`, `1.5m`). */
export function readSize(v: YVal): number {
  if (typeof v.scalar === 'number') {
    return sizeFrom(v, v.integer('a size such as 65536, 64k or 256KiB'));
  }
  return sizeFrom(v, v.string('a size such as 65536, 64k or 256KiB'));
}

export function sizeFrom(v: YVal, raw: string | number): number {
  const bytes = parseSize(raw);
  if (bytes === null || bytes <= 0) {
    return v.fail(`expected a size such as 65536, 64k or 256KiB, got ${typeof raw === 'string' ? JSON.stringify(raw) : raw}`);
  }
  return bytes;
}

/** A Compose duration in seconds. A bare number gets a hint: Compose refuses it too. */
export function readDuration(v: YVal): number {
  if (typeof v.scalar === 'number') {
    return v.fail(`expected a duration with a unit, such as ${v.describe()}s or 1m30s, got ${v.describe()}`);
  }
  const seconds = parseDuration(v.string('a duration such as 10s or 1m30s'));
  return seconds ?? v.fail(`expected a duration such as 10s, 1m30s or 500ms, got ${v.describe()}`);
}
