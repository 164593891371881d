// One container's console as a forwarder thread holds it: the pty master, the staging
// pipe, the ring, the log and the attached clients. Nothing here blocks: every fd is
// non-blocking, and whoever cannot take bytes now loses them (the ring its oldest ones).
//
//   master ──splice──▶ staging ──tee──▶ client k  (what fits; the rest counted as dropped)
//   (or read+write)       │     ──tee──▶ ring      (with a log: always all of it, drop-oldest)
//                         └─splice──▶ log file, or without a log the ring itself (empties staging)
//
// Staging is empty between two calls into this object, which is what lets an attach,
// handled between two loop iterations, replay the ring and then see every later byte
// exactly once.
import { close, openPty, readRaw, setWindowSize } from '../sys/libc.js';
import { EAGAIN, EINTR, EINVAL, EIO, EPIPE, SysError } from '../sys/errno.js';
import { SPLICE_F_MOVE, SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { splice, tee, writeRaw, type Pipe } from '../sys/splice.js';
import { RotatingLog } from './log.js';
import type { ConsoleCounters, ConsoleOptions } from './protocol.js';
import { PAGE, Ring, makePipe, type Scratch } from './ring.js';

/** What every console of a thread shares. */
export interface ThreadContext {
  devNull: number;
  /** the read/write fallback's one buffer */
  copyBuffer: Buffer;
  /** grows to the largest ring, for packing */
  scratch: Scratch;
  spliceTty: boolean;
  clientBacklog: number;
  /** tells the main thread about a failure no request is waiting for */
  report(id: string, message: string): void;
}

const STAGING_BYTES = 256 * 1024;
/** a client's pipe, for live output only (the replay comes with the attach reply) */
const CLIENT_PIPE_BYTES = 1 << 20;
/** per splice from the master: the kernel allocates a page per 4 KiB asked for, used or not */
const SPLICE_CHUNK = 64 * 1024;
/** client input kept while the container is not reading its stdin; more is dropped */
const INPUT_LIMIT = 64 * 1024;

interface Client {
  no: number;
  fd: number;
  dropped: number;
  /** bytes lost since it last took a whole round; past clientBacklog it is disconnected */
  behind: number;
  shared: BigInt64Array;
}

export type PumpResult = 'idle' | 'more' | 'eof';

export class ForwardedConsole {
  readonly slavePath: string;
  bytesIn = 0;
  clientDropped = 0;
  /** the master reached EIO (or was given up on): no more output will come */
  ended = false;
  /** master EPOLLOUT is wanted: input is waiting for the container to read its stdin */
  wantsWrite = false;
  private master: number;
  private staging: Pipe | null;
  private readonly stagingSlots: number;
  private readonly ring: Ring;
  private log: RotatingLog | null;
  private readonly clients = new Map<number, Client>();
  private nextClient = 1;
  private fallback: boolean;
  /** why the last copyIn stopped reading: 1 (buffer full), else the read's result (-EAGAIN, -EIO, 0) */
  private copyStop = 1;
  private input: Buffer[] = [];
  private inputBytes = 0;

  constructor(readonly id: string, readonly token: number, options: ConsoleOptions, private readonly ctx: ThreadContext) {
    // Acquired in order and released in reverse if a later step fails: a failed open leaves no fd.
    const undo: Array<() => void> = [];
    try {
      const pty = openPty({ nonBlocking: true });
      undo.push(() => close(pty.master));
      const staging = makePipe(STAGING_BYTES);
      undo.push(() => { close(staging.pipe.read); close(staging.pipe.write); });
      const ring = new Ring(options.buffer, ctx.devNull, ctx.scratch);
      undo.push(() => ring.close());
      const log = options.logPath === null ? null : new RotatingLog(options.logPath, options.logMax);
      this.master = pty.master;
      this.slavePath = pty.slavePath;
      this.staging = staging.pipe;
      this.stagingSlots = staging.capacity / PAGE;
      this.ring = ring;
      this.log = log;
    } catch (err) {
      for (const step of undo.reverse()) step();
      throw err;
    }
    this.fallback = !ctx.spliceTty;
  }

  get masterFd(): number {
    return this.master;
  }

  counters(): ConsoleCounters {
    return {
      bytesIn: this.bytesIn,
      ringDropped: this.ring.dropped,
      clients: this.clients.size,
      clientDropped: this.clientDropped,
    };
  }

  /**
   * Moves what the master has (up to about `budget` bytes, so that one flooding console
   * cannot starve the others of its thread) through staging to everyone.
   * 'eof': the slave side is closed by all (EIO) and everything before it was forwarded.
   */
  pump(budget: number): PumpResult {
    const staging = this.staging;
    if (this.ended || staging === null) return 'eof';
    let moved = 0;
    while (moved < budget) {
      // Fill staging while the master has bytes. Keep a free slot: then EAGAIN can only
      // mean "the master is empty", never "staging is full".
      let staged = 0;
      let usedSlots = 0;
      let last = 0;
      while (usedSlots < this.stagingSlots) {
        const room = Math.min(SPLICE_CHUNK, (this.stagingSlots - usedSlots) * PAGE);
        last = this.fallback ? this.copyIn(staging.write, room) : splice(this.master, staging.write, room, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (last > 0) {
          staged += last;
          // A splice from a tty fills pages from offset 0, a write(2) a page at a time: at most this many new slots.
          usedSlots += Math.ceil(last / PAGE);
          if (this.fallback && this.copyStop <= 0) {
            last = this.copyStop; // the copy already saw the master run dry (or end)
            break;
          }
          continue;
        }
        if (last === -EINTR) continue;
        if (last === -EINVAL && !this.fallback) {
          this.fallback = true; // this kernel cannot splice from a tty: same loop, through one buffer
          continue;
        }
        break;
      }
      if (staged > 0) {
        this.bytesIn += staged;
        this.distribute(staged);
        moved += staged;
      }
      if (last === -EAGAIN) return 'idle';
      if (last === 0 || last === -EIO) return 'eof';
      if (last < 0) throw new SysError(this.fallback ? 'read' : 'splice', -last, this.slavePath);
    }
    return 'more';
  }

  /**
   * The read/write path: read(2) from the master into the thread's buffer until it is
   * full or the master has nothing more, then one write(2) into staging. Returns the
   * bytes copied, or (none copied) the read's result; `copyStop` keeps why reading stopped.
   */
  private copyIn(stagingWrite: number, room: number): number {
    const buf = this.ctx.copyBuffer;
    const want = Math.min(room, buf.length);
    let filled = 0;
    let r = 0;
    while (filled < want) {
      r = readRaw(this.master, filled === 0 ? buf : buf.subarray(filled), want - filled);
      if (r > 0) filled += r;
      else if (r !== -EINTR) break;
    }
    this.copyStop = filled < want ? r : 1;
    if (filled === 0) return r;
    let off = 0;
    while (off < filled) {
      const w = writeRaw(stagingWrite, buf.subarray(off, filled));
      // Staging had room for `room` bytes; a short write here would lose output, so it is a bug.
      if (w <= 0) throw new SysError('write', w < 0 ? -w : EAGAIN, 'staging pipe');
      off += w;
    }
    return filled;
  }

  /** Hands the `count` bytes in staging to each client, the ring and the log, and empties staging. */
  private distribute(count: number): void {
    const staging = this.staging!;
    if (this.log === null) {
      // Clients get copies (tee), then the ring takes the bytes themselves (splice).
      for (const client of this.clients.values()) this.feedClient(client, staging.read, count);
      this.ring.consumeFrom(staging.read, count);
      return;
    }
    while (count > 0) {
      // The ring takes a copy first and sets the round's size, so every reader gets the
      // same bytes; the log then takes the bytes themselves.
      const round = this.ring.feedFrom(staging.read, count);
      for (const client of this.clients.values()) this.feedClient(client, staging.read, round);
      this.consume(staging.read, round);
      count -= round;
    }
  }

  private feedClient(client: Client, from: number, round: number): void {
    const n = tee(from, client.fd, round, SPLICE_F_NONBLOCK);
    if (n === round) {
      client.behind = 0;
      return;
    }
    if (n === -EPIPE) {
      this.dropClient(client); // the main thread closed its end
      return;
    }
    if (n < 0 && n !== -EAGAIN) throw new SysError('tee', -n, `staging pipe → client ${client.no}`);
    const lost = round - Math.max(n, 0);
    client.dropped += lost;
    client.behind += lost;
    this.clientDropped += lost;
    Atomics.store(client.shared, 0, BigInt(client.dropped));
    if (client.behind > this.ctx.clientBacklog) this.dropClient(client);
  }

  private consume(from: number, count: number): void {
    if (this.log !== null) {
      count -= this.log.appendFrom(from, count);
      if (this.log.error !== null) {
        // A full disk must not stall the container: stop logging, keep forwarding.
        this.ctx.report(this.id, `log stopped: ${this.log.error.message}`);
        this.log.close();
        this.log = null;
      }
    }
    while (count > 0) {
      const n = splice(from, this.ctx.devNull, count, SPLICE_F_NONBLOCK);
      if (n === -EINTR) continue;
      if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, 'staging pipe → /dev/null');
      count -= n;
    }
  }

  /**
   * A new client: a pipe for live output whose read end goes to the main thread, and
   * (with replay) a copy of the ring. Both are taken in this one step, between two
   * loop iterations, so the client gets the ring and then every later byte, once.
   * The replay travels with the reply rather than through the pipe: a full ring may
   * have more buffers than a pipe has slots, and the pipe stays free for live output.
   */
  attach(replay: boolean, dropped: SharedArrayBuffer): { client: number; fd: number; replay: Uint8Array } {
    const { pipe: p } = makePipe(CLIENT_PIPE_BYTES);
    let copy: Uint8Array;
    try {
      copy = replay ? this.ring.snapshot() : new Uint8Array(0);
    } catch (err) {
      close(p.read);
      close(p.write);
      throw err;
    }
    if (this.ended) {
      close(p.write); // nothing live will come: the replay, then end of stream
      return { client: 0, fd: p.read, replay: copy };
    }
    const no = this.nextClient++;
    this.clients.set(no, { no, fd: p.write, dropped: 0, behind: 0, shared: new BigInt64Array(dropped) });
    return { client: no, fd: p.read, replay: copy };
  }

  detach(no: number): void {
    const client = this.clients.get(no);
    if (client) this.dropClient(client);
  }

  private dropClient(client: Client): void {
    this.clients.delete(client.no);
    close(client.fd); // the reader sees what is left in the pipe, then end of stream
  }

  /**
   * Client input for the container's stdin. Returns true when some of it must wait for
   * the master to become writable (the caller then watches EPOLLOUT).
   */
  write(data: Uint8Array): boolean {
    if (this.ended) return false;
    if (this.input.length > 0) {
      this.queueInput(Buffer.from(data)); // behind what already waits, to keep the order
      return this.wantsWrite;
    }
    const n = writeRaw(this.master, data);
    if (n === data.length) return false;
    if (n < 0 && n !== -EAGAIN && n !== -EINTR) {
      if (n === -EIO) return false; // the container is gone; its output will end the console
      throw new SysError('write', -n, this.slavePath);
    }
    this.queueInput(Buffer.from(data.subarray(Math.max(n, 0))));
    return this.wantsWrite;
  }

  private queueInput(chunk: Buffer): void {
    // The container is not reading: past the bound, whole writes are dropped (never a part of one), never blocked on.
    if (this.inputBytes + chunk.length > INPUT_LIMIT) return;
    this.input.push(chunk);
    this.inputBytes += chunk.length;
    this.wantsWrite = true;
  }

  /** The master is writable: send queued input. Returns true while some is still waiting. */
  flushInput(): boolean {
    while (this.input.length > 0 && !this.ended) {
      const chunk = this.input[0]!;
      const n = writeRaw(this.master, chunk);
      if (n === -EAGAIN || n === -EINTR) return true;
      if (n < 0) break; // EIO: the container is gone
      this.inputBytes -= n;
      if (n === chunk.length) this.input.shift();
      else this.input[0] = chunk.subarray(n);
    }
    this.input = [];
    this.inputBytes = 0;
    this.wantsWrite = false;
    return false;
  }

  resize(rows: number, cols: number): void {
    if (!this.ended) setWindowSize(this.master, rows, cols);
  }

  snapshot(): Uint8Array {
    return this.ring.snapshot();
  }

  /**
   * No more output: release the master and staging, end the clients' streams and close
   * the log. The ring stays, for logs and late attaches. The caller has removed the
   * master from its epoll set.
   */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.wantsWrite = false;
    this.input = [];
    close(this.master);
    this.master = -1;
    if (this.staging !== null) {
      close(this.staging.read);
      close(this.staging.write);
      this.staging = null;
    }
    for (const client of this.clients.values()) this.dropClient(client);
    this.log?.close();
    this.log = null;
  }

  /** Everything, ring included. */
  close(): void {
    this.end();
    this.ring.close();
  }
}
