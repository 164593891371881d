// Compose durations (Go's time.ParseDuration without signs): `10s`, `1m30s`, `500ms`,
// `1.5h`, `2h45m`, `0`. Units: h, m, s, ms, us (µs), ns. A bare number is not a duration
// (Compose rejects `10` too), so the caller can say "add a unit".

const UNIT_SECONDS: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, 'µs': 1e-6, ns: 1e-9 };
// ms/us/ns before m/s so that "500ms" is not read as 500 minutes followed by garbage.
const PART = /(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)/y;

/** Seconds, or null if `s` is not a duration. */
export function parseDuration(s: string): number | null {
  if (s === '0') return 0;
  if (s.length === 0 || s.length > 64) return null;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (!m) return null;
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] ?? NaN);
  }
  // Sums of binary fractions drift (0.1 + 0.2); round to the nanosecond a duration can express.
  return Number.isFinite(total) ? Math.round(total * 1e9) / 1e9 : null;
}
