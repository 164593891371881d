// The drop-oldest ring: a pipe that holds a console's most recent output, at most `limit`
// bytes. New bytes are tee'd in from the staging pipe (no copy); the oldest are dropped by
// splicing them to /dev/null; attach and logs tee its contents out without consuming them.
//
// A pipe counts slots (one buffer each, at most a page), not bytes, and a splice from a
// tty fills one buffer per page it read, the last one often short. So the pipe gets twice
// the slots `limit` needs, and when short buffers still fill every slot, the ring is packed
// once by reading it out and writing it back (write(2) merges into full pages) before it
// falls back to dropping its oldest page. Either way the ring never holds more than `limit`
// bytes and never has a gap: what it holds is always a suffix of the output.
import { O_CLOEXEC, O_NONBLOCK, close, readRaw } from '../sys/libc.js';
import { SysError } from '../sys/errno.js';
import { EAGAIN, EPERM, SPLICE_F_NONBLOCK, pipe, setPipeSize, splice, tee, writeRaw, type Pipe } from '../sys/splice.js';

export const PAGE = 4096;

export interface Scratch {
  /** a buffer of at least n bytes, reused across calls */
  get(n: number): Buffer;
}

/** Pipes of this thread's making: non-blocking, close-on-exec, sized to at least `bytes` when the kernel lets us. */
export function makePipe(bytes: number): { pipe: Pipe; capacity: number } {
  const p = pipe(O_CLOEXEC | O_NONBLOCK);
  try {
    return { pipe: p, capacity: setPipeSize(p.write, bytes) };
  } catch (err) {
    close(p.read);
    close(p.write);
    throw err;
  }
}

export class Ring {
  /** bytes the ring holds now */
  bytes = 0;
  /** bytes dropped from the front so far */
  dropped = 0;
  readonly limit: number;
  readonly capacity: number;
  private readonly pipe: Pipe;

  constructor(limit: number, private readonly devNull: number, private readonly scratch: Scratch) {
    // Twice the slots the byte limit needs; without CAP_SYS_RESOURCE pipes stop at
    // /proc/sys/fs/pipe-max-size (EPERM), so settle for less and, if need be, a smaller limit.
    const p = pipe(O_CLOEXEC | O_NONBLOCK);
    let capacity = 0;
    for (const size of [2 * limit, limit, 1 << 20]) {
      try {
        capacity = setPipeSize(p.write, size);
        break;
      } catch (err) {
        if (!(err instanceof SysError) || err.errno !== EPERM) {
          close(p.read);
          close(p.write);
          throw err;
        }
      }
    }
    if (capacity === 0) {
      close(p.read);
      close(p.write);
      throw new SysError('fcntl(F_SETPIPE_SZ)', EPERM, `ring of ${limit} bytes`);
    }
    this.pipe = p;
    this.capacity = capacity;
    this.limit = Math.min(limit, capacity);
  }

  /**
   * Tees the first bytes of `staging` (up to `want`) into the ring, first dropping the
   * oldest bytes it no longer has room for. Returns how many it took: at least one, and
   * exactly those first bytes, so the caller hands the same count to everyone else.
   */
  feedFrom(staging: number, want: number): number {
    want = Math.min(want, this.limit);
    let packed = false;
    for (;;) {
      const excess = this.bytes + want - this.limit;
      if (excess > 0) this.drop(excess);
      const n = tee(staging, this.pipe.write, want, SPLICE_F_NONBLOCK);
      if (n > 0) {
        this.bytes += n;
        return n;
      }
      if (n !== -EAGAIN) throw new SysError('tee', -n, 'staging pipe → ring');
      // Every slot is taken by short buffers. Packing helps when the bytes fit in fewer pages.
      if (!packed && Math.ceil(this.bytes / PAGE) < this.capacity / PAGE) {
        this.pack();
        packed = true;
      } else {
        this.drop(Math.min(this.bytes, PAGE));
      }
    }
  }

  /** Tees the whole ring into another pipe, which must have at least the ring's capacity. */
  replayTo(fd: number): void {
    if (this.bytes === 0) return;
    const n = tee(this.pipe.read, fd, this.bytes, SPLICE_F_NONBLOCK);
    if (n < 0) throw new SysError('tee', -n, 'ring → client pipe');
    // Fewer would replay the oldest bytes and skip newer ones: a gap. Capacities rule it out.
    if (n !== this.bytes) throw new Error(`ring replay: ${n} of ${this.bytes} bytes fit the client pipe`);
  }

  /** A copy of what the ring holds, taken through a temporary pipe: the ring is not consumed. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    if (this.bytes === 0) return out;
    const tmp = makePipe(this.capacity);
    try {
      this.replayTo(tmp.pipe.write);
      readFully(tmp.pipe.read, Buffer.from(out.buffer, out.byteOffset, out.length), 'ring snapshot');
    } finally {
      close(tmp.pipe.read);
      close(tmp.pipe.write);
    }
    return out;
  }

  close(): void {
    close(this.pipe.read);
    close(this.pipe.write);
  }

  private drop(count: number): void {
    while (count > 0) {
      const n = splice(this.pipe.read, this.devNull, count, SPLICE_F_NONBLOCK);
      if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, 'ring → /dev/null');
      count -= n;
      this.bytes -= n;
      this.dropped += n;
    }
  }

  /** Reads the ring out and writes it back: the same bytes in full pages. */
  private pack(): void {
    const buf = this.scratch.get(this.bytes);
    const view = buf.subarray(0, this.bytes);
    readFully(this.pipe.read, view, 'ring (packing)');
    let off = 0;
    while (off < view.length) {
      const n = writeRaw(this.pipe.write, view.subarray(off));
      if (n <= 0) throw new SysError('write', n < 0 ? -n : EAGAIN, 'ring (packing)');
      off += n;
    }
  }
}

/** Reads exactly buf.length bytes that are known to be waiting in a non-blocking pipe. */
function readFully(fd: number, buf: Buffer, what: string): void {
  let off = 0;
  while (off < buf.length) {
    const n = readRaw(fd, buf.subarray(off));
    if (n <= 0) throw new SysError('read', n < 0 ? -n : EAGAIN, what);
    off += n;
  }
}
