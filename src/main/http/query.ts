// Query parameters, read strictly: a value that is there but malformed is a 400 quoting it,
// never a NaN that flows on into a timer or a slice.
import { HttpError } from './errors.js';

/** Docker's booleans: 1/true/True are true; absent, 0, false and anything else false. */
export function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === '1' || v === 'true' || v === 'True';
}

/** A whole number within [min, max], or undefined when the parameter is absent. */
export function integer(q: URLSearchParams, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!/^-?\d+$/.test(v) || n < min || n > max) {
    throw new HttpError(400, `query parameter ${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** One of a fixed set of words, or the default when absent. */
export function oneOf<T extends string>(q: URLSearchParams, name: string, allowed: readonly T[], fallback: T): T {
  const v = q.get(name);
  if (v === null) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new HttpError(400, `query parameter ${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}
