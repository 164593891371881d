// Reading JSON into a spec, one field at a time: each reader names the field by its full path
// in its error (`mounts[0].target must be an absolute path, got "x"`). Shared by the container
// spec and its parts (networks, resources, an image's root and user). Pure.

export class SpecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'SpecError';
    this.field = field;
  }
}

export type Json = unknown;

export function describe(v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  // What is left of JSON reads as itself (the seccomp profile parser reads large integers as
  // bigint); anything else (undefined: no value) by its type.
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : typeof v;
}

export function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: Json, field: string): string {
  if (typeof v !== 'string') throw new SpecError(field, `must be a string, got ${describe(v)}`);
  if (v.includes('\0')) throw new SpecError(field, 'must not contain NUL bytes');
  return v;
}

export function bool(v: Json, field: string): boolean {
  if (typeof v !== 'boolean') throw new SpecError(field, `must be true or false, got ${describe(v)}`);
  return v;
}

export function absPath(v: Json, field: string): string {
  const s = str(v, field);
  if (!s.startsWith('/')) throw new SpecError(field, `must be an absolute path, got ${describe(s)}`);
  if (s.split('/').includes('..')) throw new SpecError(field, `must not contain "..", got ${describe(s)}`);
  if (s.length > 4000) throw new SpecError(field, 'is longer than 4000 bytes');
  // Slashes collapsed before the trailing one goes: "//" is the root, never the empty path.
  const collapsed = s.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

export function positiveInt(v: Json, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max) {
    throw new SpecError(field, `must be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ''}, got ${describe(v)}`);
  }
  return v;
}

export function rejectUnknown(o: Record<string, Json>, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      // A key that is empty or not a plain word is quoted, so the message shows where it starts and ends.
      const shown = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k);
      const where = field ? `${field}.${shown}` : shown;
      throw new SpecError(where, `is not a known field (known: ${allowed.join(', ')})`);
    }
  }
}

export function intBetween(v: Json, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new SpecError(field, `must be a whole number of bytes from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${describe(v)}`);
  }
  return v;
}
