// Which stream each byte came from, and when. A console without a TTY has two output
// streams (stdout, stderr); the ring, the log and each client's pipe hold their bytes in
// the order the forwarder read them, and a record per chunk says which stream and when:
//
//   ring        raw bytes in its pipes; a ChunkIndex beside it (stream, length, time per chunk),
//               trimmed from the front exactly as the ring drops bytes
//   log file    (pipe consoles) a 16-byte header before each chunk, then the chunk's bytes
//   client pipe (pipe consoles) the same 16-byte header before each chunk
//
//   header      u8 stream (1 stdout, 2 stderr) · u8 × 3 "SKR" · u32 LE length · f64 LE time (ms since the epoch)
//
// A TTY console has one stream: its log and its clients' pipes stay raw bytes (a transcript,
// as `script` writes one); only its ring keeps an index, for `logs --timestamps/--since`.

export type StreamId = 1 | 2;

/** One chunk of output as a reader sees it. */
export interface OutputRecord {
  stream: StreamId;
  /** ms since the epoch, with a fraction (sub-ms from the monotonic clock) */
  time: number;
  data: Buffer;
}

export const RECORD_HEADER = 16;
const MAGIC = [0x53, 0x4b, 0x52]; // "SKR"

/** The wall clock in ms with a sub-ms fraction: the epoch at start-up plus the monotonic clock. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function encodeHeader(stream: StreamId, length: number, time: number, into = Buffer.alloc(RECORD_HEADER)): Buffer {
  into[0] = stream;
  into[1] = MAGIC[0]!;
  into[2] = MAGIC[1]!;
  into[3] = MAGIC[2]!;
  into.writeUInt32LE(length, 4);
  into.writeDoubleLE(time, 8);
  return into;
}

/**
 * Splits a byte stream of header + chunk records back into records. Bytes may arrive in any
 * split. A chunk's bytes are passed on as they arrive (a chunk split across reads comes out
 * as several records with the same stream and time), never gathered or copied: a flood
 * costs no more than the reads. A header without the magic means the stream is not what
 * this decoder reads: that is an error, never a guess.
 */
export class RecordDecoder {
  private readonly head = Buffer.alloc(RECORD_HEADER);
  private headFill = 0;
  /** bytes of the current chunk still to come; its stream and time */
  private remaining = 0;
  private stream: StreamId = 1;
  private time = 0;

  constructor(private readonly what: string) {}

  push(bytes: Buffer, emit: (r: OutputRecord) => void): void {
    let off = 0;
    while (off < bytes.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, bytes.length - off);
        emit({ stream: this.stream, time: this.time, data: bytes.subarray(off, off + n) });
        this.remaining -= n;
        off += n;
        continue;
      }
      const n = Math.min(RECORD_HEADER - this.headFill, bytes.length - off);
      bytes.copy(this.head, this.headFill, off, off + n);
      this.headFill += n;
      off += n;
      if (this.headFill < RECORD_HEADER) break;
      this.headFill = 0;
      const h = this.head;
      const stream = h[0]!;
      if ((stream !== 1 && stream !== 2) || h[1] !== MAGIC[0] || h[2] !== MAGIC[1] || h[3] !== MAGIC[2]) {
        throw new Error(`${this.what}: not a record header (bytes ${h.subarray(0, 4).toString('hex')})`);
      }
      this.stream = stream;
      this.remaining = h.readUInt32LE(4);
      this.time = h.readDoubleLE(8);
    }
  }

  /** a record is cut short here (a log ended by a full disk, a client dropped mid-chunk) */
  get partial(): boolean {
    return this.headFill > 0 || this.remaining > 0;
  }
}

/** Records of a whole buffer (a log file); the part of a record cut short (by a failure) is kept. */
export function decodeRecords(bytes: Buffer, what: string): OutputRecord[] {
  const out: OutputRecord[] = [];
  new RecordDecoder(what).push(bytes, (r) => out.push(r));
  return out;
}

/** Joins a ring snapshot's bytes with its index: [stream, length, time] triples, oldest first. */
export function recordsOf(data: Uint8Array, chunks: Float64Array): OutputRecord[] {
  const out: OutputRecord[] = [];
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  let off = 0;
  for (let i = 0; i + 2 < chunks.length; i += 3) {
    const length = chunks[i + 1]!;
    out.push({ stream: chunks[i] === 2 ? 2 : 1, time: chunks[i + 2]!, data: bytes.subarray(off, off + length) });
    off += length;
  }
  return out;
}

/**
 * The ring's index: per chunk its stream, length and time, in a circular set of typed arrays
 * that grows up to `maxChunks`. The ring drops bytes from the front; `dropFront` drops the
 * same bytes here (cutting the first chunk short if a drop ends inside it).
 */
export class ChunkIndex {
  private streams = new Uint8Array(64);
  private lengths = new Uint32Array(64);
  private times = new Float64Array(64);
  private head = 0;
  count = 0;

  constructor(readonly maxChunks: number) {}

  get firstLength(): number {
    return this.count === 0 ? 0 : this.lengths[this.head]!;
  }

  push(stream: StreamId, length: number, time: number): void {
    if (length === 0) return;
    // A trickle into the same stream within the same ms is one chunk: the index stays small.
    if (this.count > 0) {
      const last = (this.head + this.count - 1) % this.lengths.length;
      if (this.streams[last] === stream && time - this.times[last]! < 1) {
        this.lengths[last]! += length;
        return;
      }
    }
    if (this.count === this.lengths.length) this.grow();
    const at = (this.head + this.count) % this.lengths.length;
    this.streams[at] = stream;
    this.lengths[at] = length;
    this.times[at] = time;
    this.count++;
  }

  dropFront(bytes: number): void {
    while (bytes > 0 && this.count > 0) {
      const first = this.lengths[this.head]!;
      if (first > bytes) {
        this.lengths[this.head] = first - bytes;
        return;
      }
      bytes -= first;
      this.head = (this.head + 1) % this.lengths.length;
      this.count--;
    }
  }

  /** [stream, length, time] triples for the last `bytes` bytes, oldest first. */
  tail(bytes: number): Float64Array {
    const picked: number[] = [];
    for (let i = this.count - 1; i >= 0 && bytes > 0; i--) {
      const at = (this.head + i) % this.lengths.length;
      const length = Math.min(this.lengths[at]!, bytes);
      picked.push(this.times[at]!, length, this.streams[at]!);
      bytes -= length;
    }
    return Float64Array.from(picked.reverse());
  }

  private grow(): void {
    const size = Math.min(this.lengths.length * 2, Math.max(this.maxChunks, this.lengths.length + 1));
    const streams = new Uint8Array(size);
    const lengths = new Uint32Array(size);
    const times = new Float64Array(size);
    for (let i = 0; i < this.count; i++) {
      const at = (this.head + i) % this.lengths.length;
      streams[i] = this.streams[at]!;
      lengths[i] = this.lengths[at]!;
      times[i] = this.times[at]!;
    }
    this.streams = streams;
    this.lengths = lengths;
    this.times = times;
    this.head = 0;
  }
}
