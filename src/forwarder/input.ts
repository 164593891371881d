// A console's input side: client bytes for the container's stdin (the pty master, or the
// write end of the stdin pipe). Never blocks: what the container does not read yet waits
// here, up to a bound, and the forwarder thread watches the fd for EPOLLOUT meanwhile.
// A pipe's input can be closed (a client's end of input with StdinOnce): queued bytes go
// first, then the write end is closed and the container reads end of file.
import { close } from '../sys/libc.js';
import { EAGAIN, EINTR, EIO, EPIPE, SysError } from '../sys/errno.js';
import { writeRaw } from '../sys/splice.js';

/** client input kept while the container is not reading its stdin; more is dropped */
const INPUT_LIMIT = 64 * 1024;

export class ConsoleInput {
  /** EPOLLOUT is wanted: input waits for the container to read */
  wantsWrite = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private closeWhenDrained = false;
  private fdOpen = true;

  /** `owned`: a pipe's write end, which close() closes; a pty master is the console's to close. */
  constructor(readonly fd: number, private readonly owned: boolean, private readonly what: string) {}

  get open(): boolean {
    return this.fdOpen && !this.closeWhenDrained;
  }

  /** Returns true when some of it must wait for the fd to become writable. */
  write(data: Uint8Array): boolean {
    if (!this.open) return false;
    if (this.queue.length > 0) {
      this.enqueue(Buffer.from(data)); // behind what already waits, to keep the order
      return this.wantsWrite;
    }
    const n = writeRaw(this.fd, data);
    if (n === data.length) return false;
    if (n < 0 && n !== -EAGAIN && n !== -EINTR) {
      if (n === -EIO || n === -EPIPE) return false; // the container is gone (or closed its stdin)
      throw new SysError('write', -n, this.what);
    }
    this.enqueue(Buffer.from(data.subarray(Math.max(n, 0))));
    return this.wantsWrite;
  }

  /** The fd is writable: send what waits. Returns true while some still waits. */
  flush(): boolean {
    while (this.queue.length > 0 && this.fdOpen) {
      const chunk = this.queue[0]!;
      const n = writeRaw(this.fd, chunk);
      if (n === -EAGAIN || n === -EINTR) return true;
      if (n < 0) break; // EIO/EPIPE: the container is gone
      this.queued -= n;
      if (n === chunk.length) this.queue.shift();
      else this.queue[0] = chunk.subarray(n);
    }
    this.queue = [];
    this.queued = 0;
    this.wantsWrite = false;
    if (this.closeWhenDrained) this.close();
    return false;
  }

  /** End of input: the write end is closed once what waits is written (now, if nothing does). */
  finish(): void {
    if (!this.owned || !this.fdOpen) return;
    this.closeWhenDrained = true;
    if (this.queue.length === 0) this.close();
  }

  close(): void {
    this.queue = [];
    this.queued = 0;
    this.wantsWrite = false;
    if (!this.fdOpen) return;
    this.fdOpen = false;
    if (this.owned) close(this.fd);
  }

  private enqueue(chunk: Buffer): void {
    // The container is not reading: past the bound, whole writes are dropped (never a part of one), never blocked on.
    if (this.queued + chunk.length > INPUT_LIMIT) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.wantsWrite = true;
  }
}
