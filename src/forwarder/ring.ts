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
// Old bytes are dropped in batches: the pipes may run up to 64 KiB past `limit`, and
// readers get only the last `limit` bytes. What the ring holds is always a suffix of the
// output, with no gap. Beside the bytes, a ChunkIndex (records.ts) keeps each chunk's
// stream and time; it drops exactly what the pipes drop. It holds at most MAX_CHUNKS
// chunks: past that the oldest chunk is dropped from the ring too (a trickle of one-byte
// writes to alternating streams would otherwise make the index larger than the ring).
import { readFileSync } from 'node:fs';
import { close, readRaw } from '../sys/libc.js';
import { EAGAIN, EINTR, EPERM, SysError } from '../sys/errno.js';
import { O_CLOEXEC, O_NONBLOCK, SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { getPipeSize, pipe, setPipeSize, splice, tee, writeRaw, type Pipe } from '../sys/splice.js';
import { ChunkIndex, type StreamId } from './records.js';

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

/** How far past its limit the ring may run before it drops: old bytes go in batches, not per write. */
const SLACK = 64 * 1024;
/** chunks the index keeps (13 bytes each); writes to one stream within the same ms count once */
const MAX_CHUNKS = 1 << 16;

export class Ring {
  /** capacity of each segment pipe */
  readonly segmentCapacity: number;
  private readonly slack: number;
  private readonly maxSegments: number;
  /** oldest first, never empty; the last one takes new bytes */
  private readonly segments: Segment[] = [];
  /** bytes in the pipes: up to limit + slack; readers see the last `limit` of them */
  private stored = 0;
  private droppedBytes = 0;
  private readonly index = new ChunkIndex(MAX_CHUNKS);

  constructor(readonly limit: number, private readonly devNull: number, private readonly scratch: Scratch) {
    this.slack = Math.min(limit, SLACK);
    const hold = limit + this.slack;
    const first = makePipe(2 * hold);
    this.segmentCapacity = first.capacity;
    this.segments.push({ pipe: first.pipe, bytes: 0 });
    // One pipe if it has the slots; else enough segments for twice the slots the limit
    // needs, plus the one being emptied at the front while the last one fills (1 MiB with
    // pipe-max-size 1 MiB: three pipes at most, six fds, and only while output floods).
    const c = this.segmentCapacity;
    this.maxSegments = c >= 2 * hold ? 1 : Math.ceil((2 * limit) / c) + 1;
  }

  /** bytes the ring holds, as readers see it: the most recent output, at most `limit` */
  get bytes(): number {
    return Math.min(this.stored, this.limit);
  }

  /** output bytes no longer in the ring: dropped, or held back in the slack */
  get dropped(): number {
    return this.droppedBytes + (this.stored - this.bytes);
  }

  /**
   * Tees the first bytes of `staging` (up to `want`) into the ring. Returns how many it
   * took: at least one, and exactly those first bytes, so the caller hands the same count
   * to everyone else and then consumes them (into the log).
   */
  feedFrom(staging: number, want: number, stream: StreamId, time: number): number {
    want = Math.min(want, this.limit);
    this.trimFor(want);
    this.roomInIndex();
    let packed = false;
    for (;;) {
      const tail = this.segments[this.segments.length - 1]!;
      const n = tee(staging, tail.pipe.write, want, SPLICE_F_NONBLOCK);
      if (n > 0) {
        tail.bytes += n;
        this.stored += n;
        this.index.push(stream, n, time);
        return n;
      }
      if (n !== -EAGAIN) throw new SysError('tee', -n, 'staging pipe → ring');
      packed = this.makeRoom(packed);
    }
  }

  /** Moves the first `count` bytes of `staging` into the ring (splice: no tee, no copy). */
  consumeFrom(staging: number, count: number, stream: StreamId, time: number): void {
    if (count > this.limit) {
      // Older than the ring can hold before they arrive: straight to /dev/null.
      spliceAll(staging, this.devNull, count - this.limit, 'staging pipe → /dev/null');
      this.droppedBytes += count - this.limit;
      count = this.limit;
    }
    this.trimFor(count);
    this.roomInIndex();
    this.index.push(stream, count, time);
    let packed = false;
    while (count > 0) {
      const tail = this.segments[this.segments.length - 1]!;
      const n = splice(staging, tail.pipe.write, count, SPLICE_F_NONBLOCK);
      if (n > 0) {
        tail.bytes += n;
        this.stored += n;
        count -= n;
        packed = false; // progress: if short buffers fill the slots again, packing helps again
      } else if (n === -EAGAIN) {
        packed = this.makeRoom(packed);
      } else {
        throw new SysError('splice', n < 0 ? -n : EAGAIN, 'staging pipe → ring');
      }
    }
  }

  /** What the ring holds and its index: [stream, length, time] per chunk, oldest first. */
  snapshotRecords(): { data: Uint8Array; chunks: Float64Array } {
    const data = this.snapshot();
    return { data, chunks: this.index.tail(data.length) };
  }

  /** A copy of what the ring holds, taken through a temporary pipe: the ring is not consumed. */
  snapshot(): Uint8Array {
    const all = new Uint8Array(this.stored);
    if (this.stored === 0) return all;
    const tmp = makePipe(this.segmentCapacity);
    try {
      let off = 0;
      for (const seg of this.segments) {
        if (seg.bytes === 0) continue;
        // The temporary pipe has a segment's slots, so the whole segment fits.
        const n = tee(seg.pipe.read, tmp.pipe.write, seg.bytes, SPLICE_F_NONBLOCK);
        if (n !== seg.bytes) throw new SysError('tee', n < 0 ? -n : EAGAIN, 'ring → snapshot pipe');
        readFully(tmp.pipe.read, Buffer.from(all.buffer, off, n), 'ring snapshot');
        off += n;
      }
    } finally {
      close(tmp.pipe.read);
      close(tmp.pipe.write);
    }
    return all.subarray(this.stored - this.bytes);
  }

  close(): void {
    for (const seg of this.segments.splice(0)) closePipe(seg.pipe);
  }

  /** Before `count` more bytes (at most limit): past limit + slack, drop the oldest down to where limit remain after them. */
  private trimFor(count: number): void {
    if (this.stored + count > this.limit + this.slack) this.drop(this.stored + count - this.limit);
  }

  /** The index is full: its oldest chunk leaves the ring too. */
  private roomInIndex(): void {
    while (this.index.count >= this.index.maxChunks) this.drop(this.index.firstLength);
  }

  /** The last segment has no free slot: another segment, else pack once, else drop the oldest. */
  private makeRoom(packed: boolean): boolean {
    if (this.segments.length < this.maxSegments) {
      this.segments.push(this.newSegment());
      return packed;
    }
    if (!packed) {
      this.pack(); // short buffers fill every slot: the same bytes in full pages
      return true;
    }
    // Not reached with the sizes above; if it were, dropping the oldest always makes room.
    const head = this.segments[0]!;
    this.drop(this.segments.length > 1 ? head.bytes : Math.min(head.bytes, PAGE));
    return packed;
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
      const n = Math.min(count, head.bytes);
      spliceAll(head.pipe.read, this.devNull, n, 'ring → /dev/null');
      count -= n;
      head.bytes -= n;
      this.stored -= n;
      this.droppedBytes += n;
      this.index.dropFront(n);
      if (head.bytes === 0 && this.segments.length > 1) closePipe(this.segments.shift()!.pipe);
    }
  }

  /** Reads the ring out and writes it back into as few segments as its bytes need, in full pages. */
  private pack(): void {
    const buf = this.scratch.get(this.stored).subarray(0, this.stored);
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

/** Splices exactly `count` bytes known to be waiting in a pipe. */
function spliceAll(from: number, to: number, count: number, what: string): void {
  while (count > 0) {
    const n = splice(from, to, count, SPLICE_F_NONBLOCK);
    if (n === -EINTR) continue;
    if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, what);
    count -= n;
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
