// Room in a pipe console's client pipe, counted in slots. A record header and its chunk
// must go in whole or not at all: a frame cut short would leave the rest of the client's
// stream unreadable. A pipe counts buffers (slots), not bytes, and a tee takes one slot per
// staging buffer it references, so bytes free (capacity − FIONREAD) say nothing. Instead
// each write is remembered with an upper bound of the slots it took: a chunk of n bytes
// spans at most min(n, staging's slots) buffers, a header at most one. What the reader has
// consumed (bytes written − FIONREAD) frees the slots of the writes it has passed.
import { bytesReadable } from '../sys/splice.js';

export class SlotRoom {
  /** cumulative bytes written at the end of each write still (partly) in the pipe, and its slots */
  private readonly ends: number[] = [];
  private readonly slots: number[] = [];
  private head = 0;
  private written = 0;
  private used = 0;

  constructor(private readonly fd: number, private readonly capacity: number, private readonly maxChunkSlots: number) {}

  /** True when a header and a chunk of `bytes` surely fit now; then they are counted as written. */
  take(bytes: number): boolean {
    const need = 1 + Math.min(bytes, this.maxChunkSlots);
    if (this.used + need > this.capacity) {
      this.refresh();
      if (this.used + need > this.capacity) return false;
    }
    this.push(16, 1);
    this.push(bytes, need - 1);
    return true;
  }

  private push(bytes: number, slots: number): void {
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
