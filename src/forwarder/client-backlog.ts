// What a client has been given but its pipe cannot hold yet: a bounded chain of pipes (segments,
// oldest first), as the ring is made of, in front of the client's pipe. A round goes into the
// chain whole or not at all (its record header, then a tee of the chunk from staging), and the
// chain moves into the client's pipe by splice as the reader frees room there, in whatever
// pieces fit: nothing is dropped between the chain and the pipe, so the order is kept and records
// stay whole. A reader that is not scheduled for a while thus loses nothing until it is this far
// behind; past that it loses whole rounds (and is disconnected past the thread's clientBacklog).
// Nothing is copied: tee and splice pass page references. A pipe counts slots, not bytes, so each
// segment counts them (room.ts). Segments are made as the reader falls behind and kept (at most
// SPARES) once emptied, since a flood makes and empties them many times a second.
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
  /** oldest first; the last one takes new rounds */
  private readonly segments: Segment[] = [];
  private readonly spares: Segment[] = [];
  private readonly maxSegments: number;
  /** bytes in the chain */
  bytes = 0;

  /**
   * `limit`: bytes of pipe capacity the chain may use (at least one segment); `what` names the
   * client in errors.
   */
  constructor(limit: number, private readonly what: string) {
    this.maxSegments = Math.max(1, Math.ceil(limit / SEGMENT_BYTES));
  }

  /**
   * Queues the first `round` bytes of `from` (staging, which keeps them: a tee; in at most `slots`
   * buffers), after `header` if given. False, with nothing queued, when the chain has no room for all of it.
   */
  push(from: number, round: number, slots: number, header: Buffer | null): boolean {
    const seg = this.roomFor(round, slots, header?.length ?? 0);
    if (seg === null) return false;
    if (header !== null) {
      const h = writeRaw(seg.pipe.write, header);
      if (h !== header.length) throw new SysError('write', h < 0 ? -h : EAGAIN, `record header → ${this.what} backlog (counted room)`);
    }
    let left = round;
    while (left > 0) {
      // With counted room a tee takes it all; a short one would cut a record, so it is a bug.
      const n = tee(from, seg.pipe.write, left, SPLICE_F_NONBLOCK);
      if (n === -EINTR) continue;
      if (n !== left) throw new SysError('tee', n < 0 ? -n : EAGAIN, `staging pipe → ${this.what} backlog (counted room)`);
      left -= n;
    }
    const added = round + (header?.length ?? 0);
    seg.bytes += added;
    this.bytes += added;
    return true;
  }

  /**
   * Moves the chain into `to` (the client's pipe) until the chain is empty ('empty'), the pipe
   * is full ('full') or its reader has closed it ('gone').
   */
  flushInto(to: number): FlushResult {
    while (this.bytes > 0) {
      const head = this.segments[0]!;
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

  /** The segment a round of `bytes` in `slots` buffers after a header of `header` bytes surely fits in: the last, or a new one. */
  private roomFor(bytes: number, slots: number, header: number): Segment | null {
    const last = this.segments.at(-1);
    if (last !== undefined && last.room.take(bytes, slots, header)) return last;
    // A fresh segment is empty, but a round may still be more than it can take (a tiny pipe).
    if (this.segments.length >= this.maxSegments) return null;
    const seg = this.spares.pop() ?? this.makeSegment();
    if (!seg.room.take(bytes, slots, header)) {
      this.spares.push(seg);
      return null;
    }
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
