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

/** A buffer that reads fill piece after piece: `take` hands on what the last read put after the used part. */
abstract class Pieces {
  protected used = 0;

  constructor(protected buf: Buffer) {}

  /** The room for the next read. */
  abstract room(): Buffer;

  /** The `n` bytes the last read put in room(), from now on the caller's. */
  take(n: number): Buffer {
    const got = this.buf.subarray(this.used, this.used + n);
    this.used += n;
    return got;
  }

  /** Reads go on into `buf`, from its start. */
  protected restart(buf: Buffer): void {
    this.buf = buf;
    this.used = 0;
  }

  /** The unused rest of the buffer. */
  protected rest(): Buffer {
    return this.buf.subarray(this.used);
  }
}

export class ReadSlab extends Pieces {
  constructor() {
    super(Buffer.allocUnsafe(SLAB_BYTES));
  }

  /** The unused rest of the slab, or a new slab. */
  room(): Buffer {
    if (SLAB_BYTES - this.used < MIN_READ) this.restart(Buffer.allocUnsafe(SLAB_BYTES));
    return this.rest();
  }
}

/** a reused buffer: a client's whole pipe in one read */
const REUSED_BYTES = 1 << 20;
/** reused buffers kept beyond the one in use */
const KEPT = 4;

/**
 * Reads for a consumer that is done with a record when its 'data' handler returns (a transient
 * attach: docker attach copies each record into its frame). The same buffer is read into again
 * and again while nothing handed out waits unread in the consumer's stream, so the reads touch
 * memory that is already mapped and in cache, as a bare read loop's do. While records wait
 * (`unread()` > 0), the buffer they point into is set aside until the stream has none left.
 */
export class ReusedReads extends Pieces {
  /** buffers that records still waiting in the consumer's stream point into */
  private readonly held: Buffer[] = [];
  private readonly free: Buffer[] = [];

  constructor(private readonly unread: () => number) {
    super(Buffer.allocUnsafe(REUSED_BYTES));
  }

  room(): Buffer {
    if (this.unread() === 0) {
      // Every record handed out has been taken, and a transient consumer is done with it.
      for (const b of this.held.splice(0)) if (this.free.length < KEPT) this.free.push(b);
      this.restart(this.buf);
    } else if (REUSED_BYTES - this.used < MIN_READ) {
      this.held.push(this.buf);
      this.restart(this.free.pop() ?? Buffer.allocUnsafe(REUSED_BYTES));
    }
    return this.rest();
  }
}
