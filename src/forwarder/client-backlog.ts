// What a client has been given but its pipe cannot hold yet: a bounded chain of pipes (segments,
// oldest first), as the ring is made of, in front of the client's pipe. A round goes into the
// chain whole or not at all (its record header, then a tee of the chunk from staging), and the
// chain moves into the client's pipe by splice as the reader frees room there, in whatever
// pieces fit: nothing is dropped between the chain and the pipe, so the order is kept and records
// stay whole. A reader that is not scheduled for a while thus loses nothing until it is this far
// behind; past that it loses whole rounds (and is disconnected past the thread's clientBacklog).
// Nothing is copied: tee and splice pass page references.
//
// A pipe counts slots, not bytes, and no call says how many are free. While the chain may still
// grow, a round goes into the last segment as far as it fits and on into a fresh one (teed again
// from staging's start, the part already queued dropped to /dev/null); only at the bound, where a
// round cut short could not be completed, must it surely fit, by an upper bound of the slots taken
// (room.ts). Emptied segments are kept (at most SPARES): a flood makes and empties them many times a second.
import { close } from '../sys/libc.js';
import { EAGAIN, EINTR, EPIPE, SysError } from '../sys/errno.js';
import { SPLICE_F_NONBLOCK } from '../sys/constants.js';
import { splice, tee, writeRaw, type Pipe } from '../sys/splice.js';
import { makePipe, PAGE } from './ring.js';
import { SlotRoom } from './room.js';

/** each segment's size: pipe-max-size's default (a larger pipe needs CAP_SYS_RESOURCE) */
const SEGMENT_BYTES = 1 << 20;
/** emptied segments kept for the next time the reader falls behind */
const SPARES = 2;

interface Segment {
  pipe: Pipe;
  /** its slots, in SlotRoom's count */
  capacity: number;
  room: SlotRoom;
  /** bytes in it, not yet moved on */
  bytes: number;
}

export type FlushResult = 'empty' | 'full' | 'gone';

export class ClientBacklog {
  /** oldest first, never empty; the last one takes new rounds */
  private readonly segments: Segment[] = [];
  private readonly spares: Segment[] = [];
  private readonly maxSegments: number;
  /** bytes in the chain */
  bytes = 0;

  /**
   * `limit`: bytes of pipe capacity the chain may use (at least one segment); `devNull`: where
   * the part of a round teed twice goes; `what` names the client in errors.
   */
  constructor(limit: number, private readonly devNull: number, private readonly what: string) {
    this.maxSegments = Math.max(1, Math.ceil(limit / SEGMENT_BYTES));
    this.segments.push(this.makeSegment());
  }

  /**
   * Queues the first `round` bytes of `from` (staging, which keeps them: a tee; in at most `slots`
   * buffers), after `header` if given. False, with nothing queued, when the chain has no room for all of it.
   */
  push(from: number, round: number, slots: number, header: Buffer | null): boolean {
    const headerBytes = header?.length ?? 0;
    let seg = this.segments.at(-1)!;
    // While a fresh segment can still be had (and surely takes a whole round), the round goes
    // where it fits and the rest into a fresh segment: a count of slots is an upper bound, far
    // above the truth when rounds are small, so it would waste most of the chain.
    const spill = this.segments.length < this.maxSegments && seg.capacity > slots + 1;
    if (!spill) {
      // At the bound only what surely fits goes in: a round cut short there could not be completed.
      if (!seg.room.fits(round, slots, headerBytes)) return false;
      if (header !== null) this.writeHeader(seg, header);
      if (this.teeFrom(from, seg, round, slots) !== round) throw new SysError('tee', EAGAIN, `staging pipe → ${this.what} backlog (counted room)`);
      return true;
    }
    if (header !== null) {
      if (writeRaw(seg.pipe.write, header) === header.length) this.counted(seg, header.length, 1);
      else this.writeHeader((seg = this.addSegment()), header); // a header is at most PIPE_BUF: all or nothing
    }
    const n = this.teeFrom(from, seg, round, slots);
    if (n < round) {
      // The rest goes into a fresh segment: the whole round again (a tee cannot start further
      // in), less the first n bytes, which the last segment already has.
      const next = this.addSegment();
      if (this.teeFrom(from, next, round, slots) !== round) throw new SysError('tee', EAGAIN, `staging pipe → ${this.what} backlog (a fresh segment)`);
      this.discard(next, n);
    }
    return true;
  }

  /**
   * Moves the chain into `to` (the client's pipe) until the chain is empty ('empty'), the pipe
   * is full ('full') or its reader has closed it ('gone').
   */
  flushInto(to: number): FlushResult {
    while (this.bytes > 0) {
      const head = this.segments[0]!;
      if (head.bytes === 0) {
        this.retire(); // left empty when a round went whole into a fresh segment; bytes > 0 means it is not the last
        continue;
      }
      const n = splice(head.pipe.read, to, head.bytes, SPLICE_F_NONBLOCK);
      if (n === -EINTR) continue;
      if (n === -EAGAIN) return 'full';
      if (n === -EPIPE) return 'gone';
      if (n <= 0) throw new SysError('splice', n < 0 ? -n : EAGAIN, `${this.what} backlog → its pipe`);
      head.bytes -= n;
      this.bytes -= n;
      // An emptied segment that is not the one taking new rounds leaves the chain.
      if (head.bytes === 0 && this.segments.length > 1) this.retire();
    }
    return 'empty';
  }

  /** Closes every segment (the client is gone: what is queued is lost). */
  close(): void {
    for (const seg of [...this.segments.splice(0), ...this.spares.splice(0)]) {
      close(seg.pipe.read);
      close(seg.pipe.write);
    }
    this.bytes = 0;
  }

  /** Writes a record header that surely fits (counted room, or a fresh segment). */
  private writeHeader(seg: Segment, header: Buffer): void {
    const h = writeRaw(seg.pipe.write, header);
    if (h !== header.length) throw new SysError('write', h < 0 ? -h : EAGAIN, `record header → ${this.what} backlog`);
    this.counted(seg, header.length, 1);
  }

  /** Tees the first `round` bytes of staging (in at most `slots` buffers) into `seg`, what fits; returns how many. */
  private teeFrom(from: number, seg: Segment, round: number, slots: number): number {
    for (;;) {
      const n = tee(from, seg.pipe.write, round, SPLICE_F_NONBLOCK);
      if (n === -EINTR) continue;
      if (n === -EAGAIN) return 0;
      if (n < 0) throw new SysError('tee', -n, `staging pipe → ${this.what} backlog`);
      if (n > 0) this.counted(seg, n, Math.min(n, slots));
      return n;
    }
  }

  /** Drops the first `n` bytes of a segment (the part of a round its predecessor has). */
  private discard(seg: Segment, n: number): void {
    while (n > 0) {
      const d = splice(seg.pipe.read, this.devNull, n, SPLICE_F_NONBLOCK);
      if (d === -EINTR) continue;
      if (d <= 0) throw new SysError('splice', d < 0 ? -d : EAGAIN, `${this.what} backlog → /dev/null`);
      seg.bytes -= d;
      this.bytes -= d;
      n -= d;
    }
  }

  /** Adds what was written to a segment's bytes and, as an upper bound of its slots, to its room. */
  private counted(seg: Segment, bytes: number, slots: number): void {
    seg.room.add(bytes, slots);
    seg.bytes += bytes;
    this.bytes += bytes;
  }

  /** A fresh segment at the end of the chain. */
  private addSegment(): Segment {
    const seg = this.spares.pop() ?? this.makeSegment();
    this.segments.push(seg);
    return seg;
  }

  private makeSegment(): Segment {
    const { pipe, capacity } = makePipe(SEGMENT_BYTES);
    return { pipe, capacity: capacity / PAGE, room: new SlotRoom(pipe.write, capacity / PAGE), bytes: 0 };
  }

  /** The emptied head segment becomes a spare (with its slots counted afresh), or is closed. */
  private retire(): void {
    const seg = this.segments.shift()!;
    if (this.spares.length < SPARES) {
      this.spares.push({ ...seg, room: new SlotRoom(seg.pipe.write, seg.capacity), bytes: 0 });
    } else {
      close(seg.pipe.read);
      close(seg.pipe.write);
    }
  }
}
