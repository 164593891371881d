// The stdio of an exec without a TTY, and of a health probe: pipes skiffd makes itself and reads
// directly, with no console of the forwarder in between (a console costs round trips to the
// keeper to open, drain and remove it, for an exec that nobody attaches to with a TTY).
//
//   skiffd                                   the exec (opens its ends by /proc/<skiffd>/fd/N,
//   ── stdin  write end ─▶ pipe ─▶ read end    blocking, before it leaves the host's /proc)
//   ◀─ stdout read end ◀── pipe ◀─ write end
//   ◀─ stderr read end ◀── pipe ◀─ write end   (a probe: one pipe for both, in arrival order)
//
// skiffd holds the exec's ends until the launch is over (launched()), so that a read end sees
// end of file only once the exec and whatever it passed its stdio to have let go. At the exit
// (exited()) what is still in the pipes is read at once and the output ends, as a console's
// does when its process exits: a background child that kept the pipe open does not hold the
// stream open (it gets EPIPE on its next write).
import { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { OutputRecord, StreamId } from '../../forwarder/index.js';
import { nowMs } from '../../forwarder/records.js';
import { O_CLOEXEC } from '../../sys/constants.js';
import { close, readRaw } from '../../sys/libc.js';
import { pipe, type Pipe } from '../../sys/splice.js';
import type { LaunchConsole } from '../../workers/plan.js';

/** One pipe skiffd reads: its read end under a libuv handle, drained by hand at the exit. */
class PipeReader {
  private readonly socket: Socket;
  private ended = false;

  constructor(private readonly fd: number, private readonly onData: (b: Buffer) => void, private readonly onEnd: () => void) {
    this.socket = new Socket({ fd, readable: true, writable: false });
    this.socket.on('data', onData);
    this.socket.once('end', () => this.finish());
    // EIO and the like: nothing more will come from this pipe.
    this.socket.on('error', () => this.finish());
  }

  /**
   * What the pipe still holds, read now (libuv made the fd non-blocking), then the end. In
   * flowing mode every chunk libuv read has been passed on already, so nothing is reordered.
   */
  drain(): void {
    if (this.ended) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readRaw(this.fd, buf);
      if (n <= 0) break; // 0: end of file; -EAGAIN: empty; another errno: nothing more to read
      this.onData(Buffer.from(buf.subarray(0, n)));
    }
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.destroy();
    this.onEnd();
  }
}

/** A read end not yet under a reader (the launch failed before): closed by hand. */
function closeQuietly(fd: number | null): void {
  if (fd === null) return;
  try {
    close(fd);
  } catch {
    // EBADF: already closed
  }
}

function procPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

export interface DirectStdioOptions {
  /** a pipe for stdin (else the container's /dev/null) */
  stdin: boolean;
  /** one pipe for stdout and stderr (a probe's combined output, exactly in arrival order) */
  combined: boolean;
}

/**
 * An exec's pipes, open in skiffd. Lifecycle: new → console (for the launch plan) → launched()
 * once the launch is over (whether or not it succeeded) → exited() at the exit (or close()
 * if it never ran).
 */
export class DirectStdio {
  /** the exec's output as records (stream 1 or 2, time, bytes); ends at the exit, once drained */
  readonly output: Readable;
  private readonly sink: PassThrough;
  readonly console: LaunchConsole;
  private readonly stdinPipe: Pipe | null;
  private readonly outPipes: { stream: StreamId; p: Pipe }[] = [];
  /** the exec's ends, held until the launch is over */
  private execEnds: number[] = [];
  private readers: PipeReader[] = [];
  private stdinSocket: Socket | null = null;
  private open = 0;
  private closed = false;

  constructor(o: DirectStdioOptions) {
    this.sink = new PassThrough({ objectMode: true });
    this.output = this.sink;
    const made: Pipe[] = [];
    try {
      // Close-on-exec: no launcher or other child of skiffd inherits them; the exec opens its
      // own by path, which gives it a blocking description of its own.
      this.stdinPipe = o.stdin ? pipe(O_CLOEXEC) : null;
      if (this.stdinPipe) made.push(this.stdinPipe);
      const out = pipe(O_CLOEXEC);
      made.push(out);
      this.outPipes.push({ stream: 1, p: out });
      if (!o.combined) {
        const err = pipe(O_CLOEXEC);
        made.push(err);
        this.outPipes.push({ stream: 2, p: err });
      }
    } catch (err) {
      for (const p of made) { closeQuietly(p.read); closeQuietly(p.write); }
      throw err;
    }
    this.execEnds = [...(this.stdinPipe ? [this.stdinPipe.read] : []), ...this.outPipes.map(({ p }) => p.write)];
    const out = this.outPipes[0]!.p.write;
    const err = (this.outPipes[1] ?? this.outPipes[0]!).p.write;
    this.console = o.combined && !o.stdin
      ? { kind: 'file', path: procPath(out) }
      : { kind: 'pipes', stdin: this.stdinPipe ? procPath(this.stdinPipe.read) : null, stdout: procPath(out), stderr: procPath(err) };
    for (const { stream, p } of this.outPipes) {
      this.open++;
      this.readers.push(new PipeReader(p.read, (data) => this.push(stream, data), () => this.readerEnded()));
    }
    if (this.stdinPipe) {
      this.stdinSocket = new Socket({ fd: this.stdinPipe.write, readable: false, writable: true });
      // EPIPE: the exec ended or closed its stdin; what the client still sends goes nowhere.
      this.stdinSocket.on('error', () => this.stdinSocket?.destroy());
    }
  }

  private push(stream: StreamId, data: Buffer): void {
    if (!this.sink.writableEnded) this.sink.write({ stream, time: nowMs(), data } satisfies OutputRecord);
  }

  private readerEnded(): void {
    if (--this.open === 0) this.sink.end();
  }

  write(data: Buffer): void {
    if (this.stdinSocket && !this.stdinSocket.destroyed && !this.stdinSocket.writableEnded) this.stdinSocket.write(data);
  }

  /** The client's input has ended: the exec reads end of file once what was written is read. */
  closeInput(): void {
    if (this.stdinSocket && !this.stdinSocket.destroyed) this.stdinSocket.end();
  }

  /** The launch is over: the exec holds its ends now (or never will), skiffd lets go of them. */
  launched(): void {
    for (const fd of this.execEnds) closeQuietly(fd);
    this.execEnds = [];
  }

  /** The exec has exited: what its pipes still hold is read, and the output ends. */
  exited(): void {
    this.launched();
    for (const r of this.readers) r.drain();
    this.stdinSocket?.destroy();
  }

  /** Everything closed (a launch that failed): the output ends with what came. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.exited();
  }
}
