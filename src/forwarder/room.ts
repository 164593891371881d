// Room in a pipe of a client's backlog (client-backlog.ts), counted in slots. A round must go
// in whole or not at all: a record cut short would leave the rest of the client's stream
// unreadable. A pipe counts buffers (slots), not bytes, and a tee takes one slot per staging
// buffer it references, so bytes free (capacity − FIONREAD) say nothing. Instead each write is
// remembered with an upper bound of the slots it took: a chunk of n bytes spans at most
// min(n, the round's buffers) slots (the forwarder knows a bound: the pages it spliced from a
// tty or wrote, else staging's size), a header at most one. What has been read out (bytes
// written − FIONREAD) frees the slots of the writes it has passed.
import { bytesReadable } from '../sys/splice.js';

export class SlotRoom {
  /** cumulative bytes written at the end of each write still (partly) in the pipe, and its slots */
  private readonly ends: number[] = [];
  private readonly slots: number[] = [];
  private head = 0;
  private written = 0;
  private used = 0;

  constructor(private readonly fd: number, private readonly capacity: number) {}

  /**
   * True when a chunk of `bytes` in at most `slots` buffers, after a record header of `header`
   * bytes (0: none, a pty's client), surely fits now.
   */
  fits(bytes: number, slots: number, header: number): boolean {
    const need = (header > 0 ? 1 : 0) + Math.min(bytes, slots);
    if (this.used + need <= this.capacity) return true;
    this.refresh();
    return this.used + need <= this.capacity;
  }

  /** Counts a write of `bytes` that took at most `slots` slots. */
  add(bytes: number, slots: number): void {
    this.written += bytes;
    this.ends.push(this.written);
    this.slots.push(slots);
    this.used += slots;
  }

  /** Frees the slots of writes the reader has read past. */
  private refresh(): void {
    const consumed = this.written - bytesReadable(this.fd);
    while (this.head < this.ends.length && this.ends[this.head]! <= consumed) {
      this.used -= this.slots[this.head]!;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.ends.splice(0, this.head);
      this.slots.splice(0, this.head);
      this.head = 0;
    }
  }
}
