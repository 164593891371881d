// Docker's `filters` query parameter, as list and events take it. Pure.
//
// The value is JSON: a map from filter name to a list of values (`{"label":["a=b"]}`), or in
// the form older clients send, to a set (`{"label":{"a=b":true}}`). Values of one name are
// alternatives, except for label, where each must hold; different names must all hold.
import { InvalidArgument } from '../lifecycle/errors.js';

export type Filters = ReadonlyMap<string, readonly string[]>;

/** Parses `filters`; a name outside `accepted` is refused as Docker refuses it: 400 "invalid filter 'x'". */
export function parseFilters(raw: string | null, accepted: readonly string[]): Filters {
  const out = new Map<string, string[]>();
  if (raw === null || raw.trim() === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgument(`invalid filters ${JSON.stringify(raw.slice(0, 100))}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgument(`invalid filters ${JSON.stringify(raw.slice(0, 100))}: must be a JSON object of filter names`);
  }
  for (const [name, v] of Object.entries(parsed)) {
    if (!accepted.includes(name)) throw new InvalidArgument(`invalid filter '${name}'`);
    const values: unknown[] | null = Array.isArray(v) ? (v as unknown[])
      : typeof v === 'object' && v !== null ? Object.entries(v as Record<string, unknown>).filter(([, on]) => on === true).map(([k]) => k) : null;
    if (values === null || !values.every((x) => typeof x === 'string')) {
      throw new InvalidArgument(`invalid filter '${name}': its values must be a list of strings, got ${JSON.stringify(v)?.slice(0, 100)}`);
    }
    out.set(name, values);
  }
  return out;
}

/** `label=key` holds when the key is there; `label=key=value` when it has that value. Every label filter must hold. */
export function labelsMatch(f: Filters, labels: Readonly<Record<string, string>>): boolean {
  return (f.get('label') ?? []).every((want) => {
    const eq = want.indexOf('=');
    if (eq < 0) return Object.hasOwn(labels, want);
    return Object.hasOwn(labels, want.slice(0, eq)) && labels[want.slice(0, eq)] === want.slice(eq + 1);
  });
}

/**
 * Docker matches a name filter as a regular expression, against the name with its leading
 * slash and without it (so `web`, `^web` and `^/web$` all find /web). A value that is not a valid
 * expression matches as plain text.
 */
export function nameMatches(pattern: string, name: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return name.includes(pattern);
  }
  return re.test(`/${name}`) || re.test(name);
}

/** Every value of `name` is an alternative: true when the filter is absent or one value matches. */
export function anyOf(f: Filters, name: string, match: (value: string) => boolean): boolean {
  const values = f.get(name);
  return values === undefined || values.length === 0 || values.some(match);
}
