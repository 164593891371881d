// Detach keys as Docker reads them (`--detach-keys`, the attach endpoint's `detachKeys`):
// comma-separated keys, each `ctrl-<x>` or a single character. Shared by the CLI, which
// watches its terminal, and skiffd, which watches an attached client's input.

/** "ctrl-]" → [0x1d], "ctrl-p,ctrl-q" → [0x10, 0x11], "a" → [0x61]. */
export function parseDetachKeys(spec: string): number[] {
  if (spec.trim() === '') throw new Error('invalid detach keys "": give ctrl-X or single characters, comma separated');
  return spec.split(',').map((k) => {
    const m = /^ctrl-(.)$/i.exec(k.trim());
    if (m) {
      const ch = m[1]!;
      const code = ch === '@' ? 0 : ch === '[' ? 27 : ch === '\\' ? 28 : ch === ']' ? 29 : ch === '^' ? 30 : ch === '_' ? 31
        : ch.toLowerCase().charCodeAt(0) - 96;
      if (code < 0 || code > 31) throw new Error(`invalid detach key ${JSON.stringify(k)}`);
      return code;
    }
    if (k.length === 1) return k.charCodeAt(0);
    throw new Error(`invalid detach key ${JSON.stringify(k)} (use ctrl-X or a single character)`);
  });
}

/** Watches input for the detach sequence; returns the bytes to forward and whether it was seen. */
export class DetachWatcher {
  private matched = 0;
  constructor(private readonly keys: number[]) {}

  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // A partial match that breaks off: its bytes were meant for the container after all.
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = 0;
      if (b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

/** The inverse of parseDetachKeys, for the attach endpoint's `detachKeys`: [0x1d] → "ctrl-]". */
export function formatDetachKeys(keys: number[]): string {
  const special: Record<number, string> = { 0: '@', 27: '[', 28: '\\', 29: ']', 30: '^', 31: '_' };
  return keys.map((k) => (k < 32 ? `ctrl-${special[k] ?? String.fromCharCode(k + 96)}` : String.fromCharCode(k))).join(',');
}
