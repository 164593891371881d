// Numbers as people type them on a command line, checked the same way by the CLI and by
// skiffd's own command line: digits only (no "1e3", no " 5", no "0x10"), within bounds.

/** A whole number of at least `min`, or null when the text is not one. */
export function wholeNumber(text: string, min: number): number | null {
  const n = Number(text);
  return /^\d+$/.test(text) && Number.isSafeInteger(n) && n >= min ? n : null;
}

/** Seconds (decimals allowed) from 0, or above 0 with `above`, up to `max`; null when not. */
export function seconds(text: string, o: { above: boolean; max: number }): number | null {
  const n = Number(text);
  return /^\d+(\.\d+)?$/.test(text) && !(o.above && n === 0) && n <= o.max ? n : null;
}
