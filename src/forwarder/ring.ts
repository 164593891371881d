// The drop-oldest ring: pipes that hold a console's most recent output, at most `limit`
// bytes. New bytes are tee'd in from the staging pipe (no copy); the oldest are dropped by
// splicing them to /dev/null; logs and attach read it through a tee, never consuming it.
//
// A pipe counts slots (one buffer each, at most a page), not bytes, and a splice from a
// tty fills one buffer per page it read, the last one often short. To hold exactly `limit`
// bytes the ring therefore needs more slots than limit / 4096: it gets twice as many, in
// one pipe when pipe-max-size allows (only CAP_SYS_RESOURCE may exceed it), else in a chain
// of segments, each a pipe, oldest first. With buffers at least half full (a flood) that is
// always enough and nothing is copied. When short buffers (a trickle of small writes) fill
// every slot, the ring is packed once: read out and written back, write(2) fills whole pages.
// Either way the ring never holds more than `limit` bytes and what it holds is always a
// suffix of the output, with no gap.
import { readFileSync } from 'node:fs';
import { O_CLOEXEC, O_NONBLOCK, close, readRaw } from '../sys/libc.js';
import { SysError } from '../sys/errno.js';
import { EAGAIN, EPERM, SPLICE_F_NONBLOCK, getPipeSize, pipe, setPipeSize, splice, tee, writeRaw, type Pipe } from '../sys/splice.js';

export const PAGE = 4096;

export interface Scratch {
  /** a buffer of at least n bytes, reused across calls */
  get(n: number): Buffer;
}

let pipeMax: number | null = null;
/** /proc/sys/fs/pipe-max-size: the largest pipe an unprivileged process may ask for. */
function pipeMaxSize(): number {
  if (pipeMax === null) {
    try {
      pipeMax = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim()) || 1 << 20;
    } catch {
      pipeMax = 1 << 20;
    }
  }
  return pipeMax;
}

/**
 * A non-blocking, close-on-exec pipe of at least `bytes` if allowed, else of
 * pipe-max-size (or the default size if even that is refused). Returns its capacity.
 */
export function makePipe(bytes: number): { pipe: Pipe; capacity: number } {
  const p = pipe(O_CLOEXEC | O_NONBLOCK);
  try {
    for (const size of [bytes, Math.min(bytes, pipeMaxSize())]) {
      try {
        return { pipe: p, capacity: setPipeSize(p.write, size) };
      } catch (err) {
        if (!(err instanceof SysError) || err.errno !== EPERM) throw err;
      }
    }
    return { pipe: p, capacity: getPipeSize(p.write) };
  } catch (err) {
    close(p.read);
    close(p.write);
    throw err;
  }
}

interface Segment {
  pipe: Pipe;
  bytes: number;
}

export class Ring {
  /** bytes the ring holds now */
  bytes = 0;
  /** bytes dropped from the front so far */
  dropped = 0;
  /** capacity of each segment pipe */
  readonly segmentCapacity: number;
  private readonly maxSegments: number;
  /** oldest first, never empty; the last one takes new bytes */
  private readonly segments: Segment[] = [];

  constructor(readonly limit: number, private readonly devNull: number, private readonly scratch: Scratch) {
    const first = makePipe(2 * limit);
    this.segmentCapacity = first.capacity;
    this.segments.push({ pipe: first.pipe, bytes: 0 });
    // One pipe if it has the slots; else enough segments for twice the slots, plus the one
    // being emptied at the front while the last one fills.
    const c = this.segmentCapacity;
    this.maxSegments = c >= 2 * limit ? 1 : Math.ceil((2 * limit) / c) + 1;
  }

  /** Pipes (two fds each) the ring has open now. */
  get pipes(): number {
    return this.segments.length;
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
      const tail = this.segments[this.segments.length - 1]!;
      const n = tee(staging, tail.pipe.write, want, SPLICE_F_NONBLOCK);
      if (n > 0) {
        tail.bytes += n;
        this.bytes += n;
        return n;
      }
      if (n !== -EAGAIN) throw new SysError('tee', -n, 'staging pipe → ring');
      // The last segment has no free slot.
      if (this.segments.length < this.maxSegments) {
        this.segments.push(this.newSegment());
      } else if (!packed) {
        this.pack(); // short buffers fill every slot: the same bytes in full pages
        packed = true;
      } else {
        // Not reached with the sizes above; if it were, dropping the oldest always makes room.
        const head = this.segments[0]!;
        this.drop(this.segments.length > 1 ? head.bytes : Math.min(head.bytes, PAGE));
      }
    }
  }

  /** A copy of what the ring holds, taken through a temporary pipe: the ring is not consumed. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    if (this.bytes === 0) return out;
    const tmp = makePipe(this.segmentCapacity);
    try {
      let off = 0;
      for (const seg of this.segments) {
        if (seg.bytes === 0) continue;
        // The temporary pipe has a segment's slots, so the whole segment fits.
        const n = tee(seg.pipe.read, tmp.pipe.write, seg.bytes, SPLICE_F_NONBLOCK);
        if (n !== seg.bytes) throw new SysError('tee', n < 0 ? -n : EAGAIN, 'ring → snapshot pipe');
        readFully(tmp.pipe.read, Buffer.from(out.buffer, off, n), 'ring snapshot');
        off += n;
      }
    } finally {
      close(tmp.pipe.read);
      close(tmp.pipe.write);
    }
    return out;
  }

  close(): void {
    for (const seg of this.segments.splice(0)) closePipe(seg.pipe);
  }

  private newSegment(): Segment {
    const p = makePipe(this.segmentCapacity);
    if (p.capacity !== this.segmentCapacity) {
      closePipe(p.pipe);
      throw new Error(`ring segment: got a pipe of ${p.capacity} bytes, the first had ${this.segmentCapacity}`);
    }
    return { pipe: p.pipe, bytes: 0 };
  }

  /** Drops the oldest `count` bytes; segments emptied at the front are closed. */
  private drop(count: number): void {
    while (count > 0) {
      const head = this.segments[0]!;
      const n = splice(head.pipe.read, this.devNull, Math.min(count, head.bytes), SPLICE_F_NONBLOCK);
      if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, 'ring → /dev/null');
      count -= n;
      head.bytes -= n;
      this.bytes -= n;
      this.dropped += n;
      if (head.bytes === 0 && this.segments.length > 1) closePipe(this.segments.shift()!.pipe);
    }
  }

  /** Reads the ring out and writes it back into as few segments as its bytes need, in full pages. */
  private pack(): void {
    const buf = this.scratch.get(this.bytes).subarray(0, this.bytes);
    let off = 0;
    for (const seg of this.segments) {
      readFully(seg.pipe.read, buf.subarray(off, off + seg.bytes), 'ring (packing)');
      off += seg.bytes;
      seg.bytes = 0;
    }
    for (const seg of this.segments.splice(1)) closePipe(seg.pipe);
    off = 0;
    let tail = this.segments[0]!;
    while (off < buf.length) {
      const n = writeRaw(tail.pipe.write, buf.subarray(off));
      if (n > 0) {
        off += n;
        tail.bytes += n;
      } else if (n === -EAGAIN) {
        tail = this.newSegment();
        this.segments.push(tail);
      } else {
        throw new SysError('write', -n, 'ring (packing)');
      }
    }
  }
}

function closePipe(p: Pipe): void {
  close(p.read);
  close(p.write);
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
