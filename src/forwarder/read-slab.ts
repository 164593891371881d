// Where the attached reader's pipe reads land: consecutive pieces of a buffer (a slab), a fresh
// slab once the rest of the current one is small. What a read got is handed on as it is, a view
// of the slab that nobody overwrites later (a consumer such as a socket's write may hold it for
// a while), so nothing is copied, and there is one allocation per slab rather than per read.
//
// The slab's size is what matters. Node's own reads allocate 64 KiB each and pass it through the
// stream machinery; slabs of 4 MiB cost as much, in page faults: each is fresh memory from mmap,
// faulted in and zeroed page by page as reads fill it. A slab under glibc's mmap threshold
// (128 KiB) comes from the heap, which reuses what the GC has freed. A 1 MiB pipe drained by dd,
// CPU per GB read while the last 64 reads are held (as a consumer's queue would): Node's reads
// 0.9–1.5 s, 4 MiB slabs 2.4–3.2 s, 120 KiB slabs 0.65–0.71 s; one buffer reused for every
// read, which a consumer could not be handed, 0.15–0.29 s (load 13–14).
// A slab is freed by the GC once no view of it is left.

/** one slab: under glibc's mmap threshold, so its memory is the heap's, reused */
const SLAB_BYTES = 120 << 10;
/** a read is offered at least this much room: less, and the slab's rest is left unused */
const MIN_READ = 16 << 10;

export class ReadSlab {
  private slab = Buffer.allocUnsafe(SLAB_BYTES);
  private used = 0;

  /** The room for the next read: the unused rest of the slab, or a new slab. */
  room(): Buffer {
    if (SLAB_BYTES - this.used < MIN_READ) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  /** The `n` bytes the last read put in room(), from now on the caller's. */
  take(n: number): Buffer {
    const got = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return got;
  }
}
