// `skiff console NAME` and `skiff run -t`: the local terminal joined to a container's console.
// Raw mode both ways, window size forwarded on SIGWINCH, detach on Ctrl-] (or --detach-keys),
// and the terminal restored on every way out.
import { call, upgrade } from './client.js';
import { DetachWatcher, formatDetachKeys } from '../api/detach-keys.js';
import { Deframer } from './frames.js';

const enc = encodeURIComponent;

export { parseDetachKeys, DetachWatcher } from '../api/detach-keys.js';

export interface AttachOptions {
  name: string;
  /** the container has a TTY: a raw stream; otherwise Docker's 8-byte frames */
  tty: boolean;
  detachKeys: number[];
  /** replay the ring first */
  logs: boolean;
  stdin: boolean;
  /**
   * Another stream than the container's console (an exec's): the upgrade request's path and
   * body, and where window sizes go. Default: the container's attach and resize.
   */
  stream?: { path: string; body: unknown; resize: string };
}

export type AttachEnd = 'detached' | 'ended';

/**
 * Attaches the local terminal. Resolves when the container's console ends or the user detaches.
 * `beforeStart` runs once the stream is attached (skiff run starts the container there).
 */
export async function attachTerminal(o: AttachOptions, beforeStart?: () => Promise<void>): Promise<AttachEnd> {
  // Our detach keys go to skiffd too, so that its own default (Docker's ctrl-p,ctrl-q) does not apply.
  const keys = `&detachKeys=${enc(formatDetachKeys(o.detachKeys))}`;
  const target = o.stream ?? {
    path: `/containers/${enc(o.name)}/attach?stream=1&stdout=1&stderr=1&logs=${o.logs ? 1 : 0}${o.stdin ? `&stdin=1${keys}` : ''}`,
    body: undefined,
    resize: `/containers/${enc(o.name)}/resize`,
  };
  const { socket, head } = await upgrade(target.path, target.body);
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
    void call('POST', `${target.resize}?h=${rows}&w=${columns}`).catch(() => undefined);
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
    // Without a TTY the two streams arrive apart: each goes to its own fd.
    const deframer = o.tty ? null : new Deframer((s, p) => (s === 2 ? process.stderr : process.stdout).write(p));
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
      // The end of our input is the container's (a half-close, as `docker run -i` does); a TTY has no such end.
      const onEnd = () => {
        if (!o.tty && !finished) socket.end();
      };
      stdin.once('end', onEnd);
      restore.push(() => { stdin.off('data', onData); stdin.off('end', onEnd); stdin.pause(); });
      stdin.resume();
    }
    if (beforeStart) void beforeStart().catch(() => finish('ended'));
  });
}
