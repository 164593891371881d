// `skiff console NAME` and `skiff run -t`: the local terminal joined to a container's console.
// Raw mode both ways, window size forwarded on SIGWINCH, detach on Ctrl-] (or --detach-keys),
// and the terminal restored on every way out.
import { call, upgrade } from './client.js';
import { Deframer } from './frames.js';

const enc = encodeURIComponent;

/** "ctrl-]" → 0x1d, "ctrl-p,ctrl-q" → [0x10, 0x11], a single character → itself. */
export function parseDetachKeys(spec: string): number[] {
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

export interface AttachOptions {
  name: string;
  /** the container has a TTY: a raw stream; otherwise Docker's 8-byte frames */
  tty: boolean;
  detachKeys: number[];
  /** replay the ring first */
  logs: boolean;
  stdin: boolean;
}

export type AttachEnd = 'detached' | 'ended';

/**
 * Attaches the local terminal. Resolves when the container's console ends or the user detaches.
 * `beforeStart` runs once the stream is attached (skiff run starts the container there).
 */
export async function attachTerminal(o: AttachOptions, beforeStart?: () => Promise<void>): Promise<AttachEnd> {
  const { socket, head } = await upgrade(`/containers/${enc(o.name)}/attach?stream=1&stdout=1&stderr=1&logs=${o.logs ? 1 : 0}${o.stdin ? '&stdin=1' : ''}`);
  const stdin = process.stdin;
  const rawTerminal = o.stdin && stdin.isTTY === true;
  const restore: (() => void)[] = [];
  const cleanup = () => {
    for (const fn of restore.splice(0).reverse()) {
      try { fn(); } catch { /* best effort: the terminal may be gone */ }
    }
  };
  // Whatever ends this process, the terminal is given back.
  const onExit = () => cleanup();
  process.once('exit', onExit);
  restore.push(() => process.off('exit', onExit));
  if (rawTerminal) {
    stdin.setRawMode(true);
    restore.push(() => stdin.setRawMode(false));
  }

  const sendSize = () => {
    if (!process.stdout.isTTY) return;
    const { rows, columns } = process.stdout;
    void call('POST', `/containers/${enc(o.name)}/resize?h=${rows}&w=${columns}`).catch(() => undefined);
  };
  if (o.tty && process.stdout.isTTY) {
    process.on('SIGWINCH', sendSize);
    restore.push(() => process.off('SIGWINCH', sendSize));
    sendSize();
  }

  return new Promise<AttachEnd>((resolve) => {
    let finished = false;
    const finish = (how: AttachEnd) => {
      if (finished) return;
      finished = true;
      cleanup();
      socket.destroy();
      resolve(how);
    };
    const deframer = o.tty ? null : new Deframer((_s, p) => process.stdout.write(p));
    const out = (b: Buffer) => (deframer ? deframer.push(b) : process.stdout.write(b));
    if (head.length) out(head);
    socket.on('data', out);
    socket.on('end', () => finish('ended'));
    socket.on('close', () => finish('ended'));
    socket.on('error', () => finish('ended'));
    if (o.stdin) {
      const watcher = new DetachWatcher(o.detachKeys);
      const onData = (chunk: Buffer) => {
        const { forward, detach } = watcher.feed(chunk);
        if (forward.length) socket.write(forward);
        if (detach) finish('detached');
      };
      stdin.on('data', onData);
      restore.push(() => { stdin.off('data', onData); stdin.pause(); });
      stdin.resume();
    }
    if (beforeStart) void beforeStart().catch(() => finish('ended'));
  });
}
