// The one percentile of skiff: the CLI's fleet summary and `skiff bench`, the benchmarks and
// the tests all report latencies with it, so their figures compare.

/**
 * The p-th percentile (0 < p ≤ 100) of ascending `sorted`, by the nearest-rank method: the
 * smallest value with at least p % of the values at or below it, always one of the values
 * (never an interpolation). NaN for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
