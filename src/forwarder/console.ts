// One container's console as a forwarder thread holds it: its sources (the pty master, or
// the read ends of the stdout and stderr pipes), its input (the master, or the stdin pipe's
// write end), the staging pipe, the ring, the log and the attached clients. Nothing here
// blocks: every fd is non-blocking, and whoever cannot take bytes now loses them (the ring
// its oldest ones).
//
//   master ──splice──▶ staging ──tee──▶ client k  (what fits; the rest counted as dropped)
//   stdout ─┘ (or read+write) │   ──tee──▶ ring      (with a log: always all of it, drop-oldest)
//   stderr ─┘                 └─splice──▶ log file, or without a log the ring itself (empties staging)
//
// One source at a time goes through staging, so each round is one stream's chunk: the ring
// indexes it, and for a pipe console the log and each client's pipe get a record header
// (records.ts) before it; such a client's pipe takes a record whole or not at all (room.ts).
//
// Staging is empty between two calls into this object, which is what lets an attach,
// handled between two loop iterations, replay the ring and then see every later byte
// exactly once.
import { close, epollAdd, epollDel, readRaw, setNonBlocking, setWindowSize } from '../sys/libc.js';
import { EAGAIN, EINTR, EINVAL, EIO, SysError } from '../sys/errno.js';
import { EPOLLIN, EPOLLOUT, SPLICE_F_MOVE, SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { splice, writeRaw, type Pipe } from '../sys/splice.js';
import { ConsoleClients } from './clients.js';
import type { ThreadContext } from './context.js';
import { ConsoleInput } from './input.js';
import { RotatingLog } from './log.js';
import type { ConsoleCounters, ConsoleOptions, PipeEnds } from './protocol.js';
import { encodeHeader, nowMs, RECORD_HEADER, type StreamId } from './records.js';
import { PAGE, Ring, makePipe } from './ring.js';
import { CONTAINER_PTY, openStdio, SLOT_CLIENTS, SLOT_STDIN, SLOT_STDOUT, type Source } from './stdio.js';

const STAGING_BYTES = 256 * 1024;
/**
 * per splice from a pty's master: one page. The kernel allocates a page per 4 KiB asked for, used
 * or not, and a master never gives more than its line discipline's 4 KiB buffer holds (4095
 * bytes a read, in bench:console's strace): asking 64 KiB cost 15 pages allocated and freed per call.
 */
const SPLICE_CHUNK = PAGE;
export type PumpResult = 'idle' | 'more' | 'eof';

export class ForwardedConsole {
  /** the pty's slave (pty consoles) */
  readonly slavePath: string | null;
  /** the container's ends (pipe consoles): handed to the main thread, which closes them */
  readonly containerEnds: PipeEnds | null;
  bytesIn = 0;
  /** every source reached end of file (or was given up on): no more output will come */
  ended = false;
  private readonly sources: Source[];
  private input: ConsoleInput | null;
  /** a size asked for before an adoptPty console's master came */
  private pendingSize: { rows: number; cols: number } | null = null;
  /** the input's fd is in the epoll set for EPOLLOUT (pipe consoles: a registration of its own) */
  private inputWatched = false;
  private staging: Pipe | null;
  private readonly stagingSlots: number;
  private readonly ring: Ring;
  private log: RotatingLog | null;
  private readonly clients: ConsoleClients;
  private fallback: boolean;
  /** why the last copyIn stopped reading: 1 (buffer full), else the read's result (-EAGAIN, -EIO, 0) */
  private copyStop = 1;
  private readonly header = Buffer.alloc(RECORD_HEADER);

  constructor(readonly id: string, readonly token: number, options: ConsoleOptions, private readonly ctx: ThreadContext) {
    // Acquired in order and released in reverse if a later step fails: a failed open leaves no fd.
    const undo: Array<() => void> = [];
    const registered: number[] = [];
    try {
      const stdio = openStdio(id, options);
      undo.push(() => stdio.close());
      this.slavePath = stdio.slavePath;
      this.containerEnds = stdio.containerEnds;
      this.sources = stdio.sources;
      this.input = stdio.input;
      const staging = makePipe(STAGING_BYTES);
      undo.push(() => { close(staging.pipe.read); close(staging.pipe.write); });
      const ring = new Ring(options.buffer, ctx.devNull, ctx.scratch);
      undo.push(() => ring.close());
      const log = options.logPath === null ? null : new RotatingLog(options.logPath, options.logMax);
      undo.push(() => log?.close());
      for (const src of this.sources) {
        epollAdd(ctx.epfd, src.fd, EPOLLIN, token * 4 + src.slot);
        registered.push(src.fd);
      }
      this.staging = staging.pipe;
      this.stagingSlots = staging.capacity / PAGE;
      this.clients = new ConsoleClients(id, stdio.slavePath === null, token, ctx);
      this.ring = ring;
      this.log = log;
    } catch (err) {
      for (const fd of registered) epollDel(ctx.epfd, fd);
      for (const step of undo.reverse()) step();
      throw err;
    }
    this.fallback = !ctx.spliceTty && this.slavePath !== null;
  }

  /** A pipe console: chunks carry record headers to clients and the log. */
  get framed(): boolean {
    return this.slavePath === null;
  }

  counters(): ConsoleCounters {
    return {
      bytesIn: this.bytesIn,
      ringDropped: this.ring.dropped,
      clients: this.clients.size,
      clientDropped: this.clients.dropped,
    };
  }

  /** The epoll event with this slot arrived: move output, send waiting input, or move clients' backlogs on. */
  service(slot: number, events: number, budget: number): void {
    if (slot === SLOT_CLIENTS) {
      this.clients.flushAll(); // a reader made room in its pipe (or closed it)
      return;
    }
    if (events & EPOLLOUT && this.input !== null && (slot === SLOT_STDIN || this.slavePath !== null)) {
      this.input.flush();
      this.watchInput();
    }
    const src = this.sources.find((s) => s.slot === slot);
    if (src !== undefined && events & ~EPOLLOUT && !src.ended) {
      if (this.pump(src, budget) === 'eof') this.endSource(src);
    }
  }

  /** Drains every source that has not ended (up to `budget` each): the container has exited. */
  drain(budget: number): void {
    for (const src of this.sources) {
      while (!src.ended) {
        const r = this.pump(src, budget);
        if (r === 'eof') this.endSource(src);
        if (r !== 'more') break;
      }
    }
  }

  private endSource(src: Source): void {
    src.ended = true;
    epollDel(this.ctx.epfd, src.fd);
    if (this.sources.every((s) => s.ended)) this.end();
  }

  /**
   * Moves what a source has (up to about `budget` bytes, so that one flooding console
   * cannot starve the others of its thread) through staging to everyone.
   * 'eof': the writers are gone (EIO on a pty, end of file on a pipe) and everything before it was forwarded.
   */
  private pump(src: Source, budget: number): PumpResult {
    const staging = this.staging;
    if (src.ended || staging === null) return 'eof';
    let moved = 0;
    while (moved < budget) {
      // Fill staging while the source has bytes. Keep a free slot: then EAGAIN can only
      // mean "the source is empty", never "staging is full".
      let staged = 0;
      let usedSlots = 0;
      let last = 0;
      while (usedSlots < this.stagingSlots) {
        // From a pipe, a splice moves buffer references, so it may ask for all staging's room at once.
        const room = Math.min(this.slavePath !== null ? SPLICE_CHUNK : Infinity, (this.stagingSlots - usedSlots) * PAGE);
        last = this.fallback ? this.copyIn(src.fd, staging.write, room) : splice(src.fd, staging.write, room, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
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
        if (last === -EINVAL && !this.fallback && this.slavePath !== null) {
          this.fallback = true; // this kernel cannot splice from a tty: same loop, through one buffer
          continue;
        }
        break;
      }
      if (staged > 0) {
        this.bytesIn += staged;
        // The buffers the round spans, at most: from a tty (or by write(2)) the pages counted above;
        // a splice from a pipe moves its buffers as the writer left them, so only staging's size bounds it.
        this.distribute(staged, src.stream, this.slavePath !== null ? usedSlots : this.stagingSlots);
        moved += staged;
      }
      if (last === -EAGAIN) return 'idle';
      if (last === 0 || last === -EIO) return 'eof';
      if (last < 0) throw new SysError(this.fallback ? 'read' : 'splice', -last, this.slavePath ?? `console \`${this.id}\` ${src.stream === 1 ? 'stdout' : 'stderr'} pipe`);
    }
    return 'more';
  }

  /**
   * The read/write path: read(2) from the master into the thread's buffer until it is
   * full or the master has nothing more, then one write(2) into staging. Returns the
   * bytes copied, or (none copied) the read's result; `copyStop` keeps why reading stopped.
   */
  private copyIn(from: number, stagingWrite: number, room: number): number {
    const buf = this.ctx.copyBuffer;
    const want = Math.min(room, buf.length);
    let filled = 0;
    let r = 0;
    while (filled < want) {
      r = readRaw(from, filled === 0 ? buf : buf.subarray(filled), want - filled);
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

  /**
   * Hands the `count` bytes of one stream in staging (in at most `slots` buffers) to each client,
   * the ring and the log, and empties staging.
   */
  private distribute(count: number, stream: StreamId, slots: number): void {
    const staging = this.staging!;
    const time = nowMs();
    if (this.log === null) {
      // Clients get copies (tee), then the ring takes the bytes themselves (splice).
      this.clients.feed(staging.read, count, slots, stream, time);
      this.ring.consumeFrom(staging.read, count, stream, time);
      return;
    }
    while (count > 0) {
      // The ring takes a copy first and sets the round's size, so every reader gets the
      // same bytes; the log then takes the bytes themselves.
      const round = this.ring.feedFrom(staging.read, count, stream, time);
      this.clients.feed(staging.read, round, slots, stream, time);
      this.consume(staging.read, round, stream, time);
      count -= round;
    }
  }

  private consume(from: number, count: number, stream: StreamId, time: number): void {
    if (this.log !== null) {
      count -= this.log.appendFrom(from, count, this.framed ? encodeHeader(stream, count, time, this.header) : null);
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
  attach(replay: boolean): { client: number; fd: number; replay: Uint8Array; chunks: Float64Array } {
    const copy = replay ? this.ring.snapshotRecords() : { data: new Uint8Array(0), chunks: new Float64Array(0) };
    return { ...this.clients.add(!this.ended), replay: copy.data, chunks: copy.chunks };
  }

  detach(no: number): void {
    this.clients.remove(no);
  }

  /** Client input for the container's stdin; dropped when it has none (a pipe console without OpenStdin). */
  write(data: Uint8Array): void {
    if (this.ended || this.input === null) return;
    this.input.write(data);
    this.watchInput();
  }

  /** End of input (StdinOnce): a pipe console's stdin is closed once what waits is written. */
  closeInput(): void {
    if (this.input === null || this.slavePath !== null) return;
    this.input.finish();
    this.watchInput();
  }

  /** Watches the input's fd for EPOLLOUT exactly while input waits. */
  private watchInput(): void {
    const input = this.input;
    if (input === null || this.ended) return;
    const want = input.wantsWrite;
    if (want === this.inputWatched) return;
    if (this.slavePath !== null) {
      // The master's one registration carries both directions.
      epollDel(this.ctx.epfd, input.fd);
      epollAdd(this.ctx.epfd, input.fd, EPOLLIN | (want ? EPOLLOUT : 0), this.token * 4 + SLOT_STDOUT);
    } else if (want) {
      epollAdd(this.ctx.epfd, input.fd, EPOLLOUT, this.token * 4 + SLOT_STDIN);
    } else {
      epollDel(this.ctx.epfd, input.fd);
    }
    this.inputWatched = want;
  }

  resize(rows: number, cols: number): void {
    if (this.ended || this.slavePath === null) return;
    if (this.awaitingMaster) this.pendingSize = { rows, cols };
    else setWindowSize(this.sources[0]!.fd, rows, cols);
  }

  /** An adoptPty console whose master has not come (nothing to drain at an exit). */
  get awaitingMaster(): boolean {
    return this.slavePath === CONTAINER_PTY && this.sources.length === 0;
  }

  /**
   * An adoptPty console's master arrives, an fd of this process now (owned from here on: closed
   * here if it cannot be used). From then on the console is a pty console like any other.
   */
  adoptPty(master: number): void {
    try {
      if (!this.awaitingMaster || this.ended) throw new Error(`console \`${this.id}\` ${this.ended ? 'has ended' : 'is not waiting for a pty master'}`);
      setNonBlocking(master);
      epollAdd(this.ctx.epfd, master, EPOLLIN, this.token * 4 + SLOT_STDOUT);
    } catch (err) {
      close(master);
      throw err;
    }
    this.sources.push({ fd: master, stream: 1, slot: SLOT_STDOUT, ended: false });
    this.input = new ConsoleInput(master, false, CONTAINER_PTY);
    if (this.pendingSize !== null) setWindowSize(master, this.pendingSize.rows, this.pendingSize.cols);
    this.pendingSize = null;
  }

  snapshot(): Uint8Array {
    return this.ring.snapshot();
  }

  snapshotRecords(): { data: Uint8Array; chunks: Float64Array } {
    return this.ring.snapshotRecords();
  }

  /**
   * No more output: release the sources, the input and staging, end the clients' streams (each
   * once its backlog has reached its pipe) and close the log. The ring stays, for logs and late attaches.
   */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.input !== null && this.inputWatched && this.slavePath === null) epollDel(this.ctx.epfd, this.input.fd);
    this.inputWatched = false;
    this.input?.close();
    for (const src of this.sources) {
      if (!src.ended) epollDel(this.ctx.epfd, src.fd);
      src.ended = true;
      close(src.fd);
    }
    if (this.staging !== null) {
      close(this.staging.read);
      close(this.staging.write);
      this.staging = null;
    }
    this.clients.endAll();
    this.log?.close();
    this.log = null;
  }

  /** Everything, ring included; clients lose what their backlogs still hold. */
  close(): void {
    this.end();
    this.clients.removeAll();
    this.ring.close();
  }
}
