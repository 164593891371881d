// Command-line values the benches share the reading of.

/** The value after `flag` as a positive integer, or usage() naming the flag and what it got. */
export function positiveIntArg(flag: string, value: string | undefined, usage: (message: string) => never): number {
  if (value === undefined) usage(`${flag} needs a value`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usage(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
