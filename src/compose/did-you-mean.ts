// "did you mean …?" for misspelt keys and service names.

/**
 * Edit distance where inserting, deleting or changing a letter, or swapping two
 * neighbours, costs 1 (optimal string alignment): `wbe` is one typo away from `web`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    const up = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2] as number[])[j - 2] as number + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/**
 * The candidate closest to `word`, if it is close enough to be a plausible typo: at most
 * a third of the word's letters wrong (at least one). Case and `-`/`_` are ignored,
 * so `Working-Dir` finds `working_dir`.
 */
export function closest(word: string, candidates: Iterable<string>): string | null {
  const norm = (s: string): string => s.toLowerCase().replace(/-/g, '_');
  const w = norm(word);
  const limit = Math.max(1, Math.floor(w.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // Keys can be up to 1024 characters; skip the quadratic comparison when lengths alone rule it out.
    if (Math.abs(c.length - w.length) > limit) continue;
    const d = editDistance(w, norm(c));
    if (d <= limit && d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
