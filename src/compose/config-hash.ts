// A stable hash of a JSON value: the same value gives the same hash in any process and
// any key order, so a reconciler can compare the hash a running container was created
// with against the one the fleet file now asks for.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level; arrays keep their order (it matters). */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function configHash(v: unknown): string {
  return createHash('sha256').update(stableJson(v)).digest('hex');
}
