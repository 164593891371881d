// The frames between skiff-oci's C front end (src/native/oci-front.c) and its server: a type
// byte, a u32 little-endian length, the payload. Strings are NUL-ended. The front end's request
// ('Q') carries argv, its working directory and the fds it has open; the launch ('L') carries
// the umask, the fd the start fifo is to be opened on, its path and the encoded plan.

export type FrameType = 'A' | 'O' | 'E' | 'C' | 'L' | 'F' | 'X' | 'Q' | 'P' | 'R';

export interface Frame { type: string; payload: Buffer }

export function frame(type: FrameType, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function u32Frame(type: FrameType, n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return frame(type, b);
}

export function stringsFrame(type: FrameType, strings: readonly string[]): Buffer {
  return frame(type, Buffer.concat(strings.map((s) => Buffer.from(`${s}\0`))));
}

export function launchFrame(umask: number, fifoFd: number, fifoPath: string, plan: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(umask, 0);
  head.writeUInt32LE(fifoFd, 4);
  return frame('L', Buffer.concat([head, Buffer.from(`${fifoPath}\0`), plan]));
}

/** Splits a byte stream into frames; a frame longer than `max` is a protocol error. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly max = 1 << 20) {}

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32LE(1);
      if (len > this.max) throw new Error(`a frame of ${len} bytes (at most ${this.max})`);
      if (this.buf.length < 5 + len) break;
      out.push({ type: String.fromCharCode(this.buf[0]!), payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}

export interface Request { argv: string[]; cwd: string; openFds: number[] }

export function parseRequest(p: Buffer): Request {
  if (p.length < 8) throw new Error('a request shorter than its header');
  const argc = p.readUInt32LE(0);
  const nfds = p.readUInt32LE(4);
  if (8 + 4 * nfds > p.length) throw new Error(`a request with ${nfds} fds in ${p.length} bytes`);
  const openFds = Array.from({ length: nfds }, (_, i) => p.readUInt32LE(8 + 4 * i));
  const strings = p.subarray(8 + 4 * nfds).toString('utf8').split('\0');
  // cwd, argv…, and the empty string after the last NUL
  if (strings.length !== argc + 2 || strings[argc + 1] !== '') throw new Error(`a request with ${strings.length - 2} arguments where it says ${argc}`);
  return { cwd: strings[0]!, argv: strings.slice(1, argc + 1), openFds };
}
