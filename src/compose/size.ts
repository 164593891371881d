// Byte sizes as Docker and Compose write them: `1024`, `64k`, `64kb`, `1m`, `256KiB`,
// `1.5GiB`. Units are binary (k = 1024), as Docker's are for memory and tmpfs sizes, so
// `256k` and `256KiB` mean the same thing.

const SIZE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i;
const POWER: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4 };

/** Bytes (rounded down to a whole byte), or null if `v` is not a size. */
export function parseSize(v: string | number): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  const m = SIZE.exec(v.trim());
  if (!m) return null;
  const unit = m[2]?.toLowerCase();
  const bytes = Math.floor(Number(m[1]) * 1024 ** (unit === undefined ? 0 : (POWER[unit] ?? 0)));
  return Number.isSafeInteger(bytes) ? bytes : null;
}
