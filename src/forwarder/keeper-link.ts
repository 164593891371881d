// skiffd's end of the keeper (keeper.ts): it connects to `<dir>/keeper.sock`, or, when no
// keeper answers there, starts one (keeper-start.ts) and connects once it says ready. Then it
// connects once more for each forwarder thread, which reads and answers that connection
// itself (thread-link.ts): a console's requests go straight to the thread that holds it,
// chosen here when it is opened, and only `list` (and a console this skiffd does not place)
// through the keeper's main thread. Requests and replies go as frames (wire.ts); fds a reply
// names are opened through /proc/<keeper>/fd/N (by skiffd, or by the container's PID 1: lend)
// and then released with `taken`. `taken` and a
// removed container's `discard` wait for the next frame on their connection (Channel).
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { close, openPath } from '../sys/libc.js';
import { O_NONBLOCK } from '../sys/constants.js';
import type { Reply, Request } from './protocol.js';
import { startKeeper, type KeeperOptions } from './keeper-start.js';
import { encodeFrame, FrameDecoder, FrameWriter, KEEPER_PROTOCOL, type Hello, type Taken, type Welcome } from './wire.js';

export type { KeeperOptions } from './keeper-start.js';

/** What the hub sends requests to: the keeper process, or forwarder threads in this process. */
export interface Endpoint {
  send(req: Request): void;
  /**
   * The fds a reply about console `id` named, as fds of this process that the caller now owns
   * (flags: how to open each). `release`: when the keeper is told to close its copies, at once
   * or with the next frame (see KeeperLink.take).
   */
  take(id: string, fds: number[], flags: number[], release: 'now' | 'with-next-frame'): number[];
  /**
   * The fds a reply about console `id` named, lent rather than taken: paths
   * (`/proc/<pid>/fd/N`) for another process to open, which stay valid until `release()`.
   */
  lend(id: string, fds: number[]): Lent;
  close(): Promise<void>;
  /** processes of skiffd's own that this endpoint started (not containers: the stray reaper leaves them alone) */
  pids(): number[];
}

/** Fds lent by path (Endpoint.lend). */
export interface Lent {
  paths: string[];
  /** the paths are no longer needed (opened, or never to be): the fds may be closed; once is enough */
  readonly release: () => void;
}

/** `fds` of process `pid` lent by their /proc paths; `letGo` runs at the first release only. */
export function lentByPath(pid: number, fds: number[], letGo: () => void): Lent {
  let released = false;
  return {
    paths: fds.map((fd) => `/proc/${pid}/fd/${fd}`),
    release: () => {
      if (released) return;
      released = true;
      letGo();
    },
  };
}

/**
 * How long a `discard` may wait for a next frame on its connection before it goes alone. Under
 * a load of containers the next create's `open` comes well before; a quiet skiffd leaves a
 * removed container's console (pipes at end of file, a ring) in the keeper this long at most.
 */
export const DISCARD_LATER_MS = 50;

/** One connection to the keeper: its main thread's, or a forwarder thread's. */
class Channel {
  readonly writer: FrameWriter;
  /**
   * Frames that go with this connection's next one, in the order they came: `taken` (fds
   * whose copies the keeper may close; the next frame about their console always comes) and a
   * removed container's `discard` (sent alone after DISCARD_LATER_MS if no frame comes first).
   */
  private later: (Taken | Discard)[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** consoles placed on this thread */
  load = 0;

  constructor(readonly sock: Socket) {
    this.writer = new FrameWriter(sock);
  }

  send(req: Request): void {
    this.flush();
    this.writer.write(req);
  }

  /**
   * A frame nobody waits for, which rides with the next frame on this connection (another
   * container's `open`, most often) instead of waking the keeper by itself: one frame and one
   * wake-up of each process fewer per container. Consecutive `taken`s go as one.
   */
  withNext(frame: Taken | Discard): void {
    const last = this.later.at(-1);
    if (frame.type === 'taken' && last?.type === 'taken') last.fds.push(...frame.fds);
    else this.later.push(frame.type === 'taken' ? { type: 'taken', fds: [...frame.fds] } : frame);
    if (frame.type === 'discard') {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.flush();
      }, DISCARD_LATER_MS);
    }
  }

  /** Writes what waits for a next frame. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const frame of this.later) this.writer.write(frame);
    this.later = [];
  }

  hasDiscard(id: string): boolean {
    return this.later.some((f) => f.type === 'discard' && f.id === id);
  }
}

/** A removed container's discard (protocol.ts): no answer. */
type Discard = Extract<Request, { type: 'discard' }>;

type Greeted = { sock: Socket; welcome: Exclude<Welcome, { refused: string }> };

export class KeeperLink implements Endpoint {
  private closing = false;
  private readonly what: string;
  /** the thread each console this skiffd knows of is on */
  private readonly threadOf = new Map<string, Channel>();
  /** opens in flight, by seq: a failed one is placed nowhere */
  private readonly opening = new Map<number, string>();

  private constructor(private readonly main: Channel, private readonly threads: Channel[], readonly pid: number) {
    this.what = `the keeper (pid ${pid})`;
  }

  /**
   * Connects to the keeper of `dir`, starting one if none answers. `onReply` gets every reply;
   * `onLost` is called once if a connection ends while the hub still uses it.
   */
  static async open(o: KeeperOptions, onReply: (r: Reply) => void, onLost: (err: Error) => void): Promise<KeeperLink> {
    const path = join(o.dir, 'keeper.sock');
    if (Buffer.byteLength(path) > 107) throw new Error(`the keeper's socket \`${path}\` is longer than the 107 bytes a unix socket address holds`);
    let link = await KeeperLink.tryConnect(path, onReply, onLost);
    if (link !== null) return link;
    const child = await startKeeper(o);
    link = await KeeperLink.tryConnect(path, onReply, onLost);
    if (link === null) {
      child.kill('SIGKILL');
      throw new Error(`the keeper started (pid ${child.pid}) but does not answer on \`${path}\``);
    }
    return link;
  }

  /** null: nobody listens there (or a keeper that is ending refused), so one must be started. */
  private static async tryConnect(path: string, onReply: (r: Reply) => void, onLost: (err: Error) => void): Promise<KeeperLink | null> {
    let link: KeeperLink | null = null;
    const onFrame = (m: unknown) => link?.fromKeeper(m as Reply, onReply);
    const first = await greet(path, { hello: KEEPER_PROTOCOL }, onFrame);
    if (first === null) return null;
    const { pid, threads } = first.welcome as { pid: number; threads: number };
    const socks = [first.sock];
    try {
      for (let thread = 0; thread < threads; thread++) {
        const t = await greet(path, { hello: KEEPER_PROTOCOL, thread }, onFrame);
        if (t === null) throw new Error('it is ending');
        socks.push(t.sock);
      }
    } catch (err) {
      for (const s of socks) s.destroy();
      throw new Error(`the keeper (pid ${pid}) took no connection for forwarder thread ${socks.length - 1}: ${(err as Error).message}`, { cause: err });
    }
    const created: KeeperLink = new KeeperLink(new Channel(first.sock), socks.slice(1).map((s) => new Channel(s)), pid);
    link = created;
    let lost = false;
    for (const s of socks) {
      s.on('close', () => {
        if (created.closing || lost) return;
        lost = true;
        for (const other of socks) other.destroy();
        onLost(new Error(`${created.what} has gone`));
      });
    }
    return created;
  }

  send(req: Request): void {
    const channel = this.channelFor(req);
    if (req.type === 'discard') channel.withNext(req);
    else channel.send(req);
  }

  /**
   * Opens the keeper's fds through /proc. Its copies are of no use to anyone then, opened or
   * not, and it is told so (`taken`) at once, or with the next frame: a pipe console's
   * container ends, whose copies in the keeper only keep the pipes from reporting end of
   * file, and the next frame about that console (exited, or its removal) always comes first.
   * That saves a frame, and a wake-up of the keeper, per container.
   */
  take(id: string, fds: number[], flags: number[], release: 'now' | 'with-next-frame'): number[] {
    const channel = this.threadOf.get(id) ?? this.main;
    const mine: number[] = [];
    try {
      fds.forEach((fd, i) => mine.push(openPath(`/proc/${this.pid}/fd/${fd}`, flags[i]! | O_NONBLOCK)));
    } catch (err) {
      for (const fd of mine) close(fd);
      throw new Error(`take a pipe from ${this.what}: ${(err as Error).message}`, { cause: err });
    } finally {
      if (release === 'now') channel.writer.write({ type: 'taken', fds });
      else channel.withNext({ type: 'taken', fds });
    }
    return mine;
  }

  /**
   * The keeper's fds by their /proc paths, opened by the container's PID 1 itself rather than
   * by skiffd first (and by PID 1 through skiffd's /proc then): two opens and two closes fewer
   * in skiffd per container. The keeper keeps its copies until release() (PID 1 holds its own
   * by then, or never will), whose `taken` rides with the next frame on the console's
   * connection; if skiffd dies first, the connection's end closes them, as it closes anything
   * never taken.
   */
  lend(id: string, fds: number[]): Lent {
    // The connection the reply came by, which holds the fds; the console may be discarded (and
    // unplaced) before the release.
    const channel = this.threadOf.get(id) ?? this.main;
    return lentByPath(this.pid, fds, () => channel.withNext({ type: 'taken', fds }));
  }

  /** Lets go of the keeper, which goes on (and ends once nothing is live). */
  close(): Promise<void> {
    this.closing = true;
    return Promise.all([this.main, ...this.threads].map((channel) => new Promise<void>((resolve) => {
      const { sock } = channel;
      channel.flush();
      channel.writer.flush();
      if (sock.destroyed) return resolve();
      sock.once('close', () => resolve());
      sock.end();
    }))).then(() => undefined);
  }

  pids(): number[] {
    return [this.pid];
  }

  /**
   * Where a request goes: a console's to its thread, a new console's to the thread with the
   * fewest, `list` (and a console placed by no one here) to the keeper's main thread, which relays it.
   */
  private channelFor(req: Request): Channel {
    if (req.type === 'list' || req.type === 'shutdown' || req.type === 'link') return this.main;
    if (req.type === 'open') {
      // A discard of the same id still waiting goes first: the old console is gone before the new one opens.
      for (const c of [this.main, ...this.threads]) if (c.hasDiscard(req.id)) c.flush();
      const thread = this.threads.reduce((a, b) => (b.load < a.load ? b : a), this.threads[0] ?? this.main);
      this.place(req.id, thread);
      this.opening.set(req.seq, req.id);
      return thread;
    }
    const thread = this.threadOf.get(req.id) ?? this.main;
    if (req.type === 'remove' || req.type === 'discard') this.unplace(req.id);
    return thread;
  }

  private fromKeeper(reply: Reply, onReply: (r: Reply) => void): void {
    if ('seq' in reply) {
      const opened = this.opening.get(reply.seq);
      if (opened !== undefined) {
        this.opening.delete(reply.seq);
        if (reply.type === 'failed') this.unplace(opened);
      }
      // The consoles a keeper kept from an earlier skiffd: each stays on its thread.
      if (reply.type === 'list') for (const c of reply.consoles) this.place(c.id, this.threads[c.thread] ?? this.main);
    }
    onReply(reply);
  }

  private place(id: string, thread: Channel): void {
    this.unplace(id);
    this.threadOf.set(id, thread);
    thread.load++;
  }

  private unplace(id: string): void {
    const thread = this.threadOf.get(id);
    if (thread === undefined) return;
    this.threadOf.delete(id);
    thread.load--;
  }
}

/**
 * One connection's handshake: its hello, then the keeper's welcome (or a thread's). null when
 * nobody listens there, or a keeper that is ending refused; any other refusal is an error.
 * Frames after the welcome go to `onFrame`.
 */
function greet(path: string, hello: Hello, onFrame: (m: unknown) => void): Promise<Greeted | null> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const decoder = new FrameDecoder('keeper → skiffd');
    let welcomed = false;
    const settle = (v: Greeted | null, err?: Error) => {
      if (err) reject(err);
      else resolve(v);
    };
    // Kept for the socket's life: after the welcome an error is followed by 'close', which reports it.
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!welcomed) settle(null, err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? undefined : new Error(`connect to the keeper at \`${path}\`: ${err.code ?? err.message}`));
    });
    sock.on('data', (b: Buffer) => {
      try {
        decoder.push(b, (m) => {
          if (welcomed) return onFrame(m);
          const w = m as Welcome;
          if ('refused' in w) {
            sock.destroy();
            // An ending keeper lets go of its socket in a moment; a refusal for any other reason is an error.
            settle(null, w.refused === 'the keeper is ending' ? undefined : new Error(`the keeper at \`${path}\` refused skiffd: ${w.refused}`));
            return;
          }
          welcomed = true;
          settle({ sock, welcome: w });
        });
      } catch (err) {
        sock.destroy(err as Error);
        if (!welcomed) settle(null, err as Error);
      }
    });
    sock.on('close', () => { if (!welcomed) settle(null); });
    sock.write(encodeFrame(hello));
  });
}
