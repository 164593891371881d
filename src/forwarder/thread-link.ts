// A forwarder thread's own connection to skiffd, in the keeper. skiffd sends the requests for
// the consoles a thread holds straight to that thread, which answers on the same connection:
// relayed through the keeper's main thread, each request and each reply cost a socket read or
// write there, a postMessage and an eventfd wake-up, the keeper's largest cost per container.
// The keeper's main thread accepts the connection and hands its fd over (a `link` request);
// the thread reads it in its own epoll set and writes the replies of one loop iteration in one
// write (flush), after the requests it read in that iteration.
//
// Fds a reply names (a pipe console's container ends, a client's read end) stay open here
// until skiffd says `taken` on this connection, and are closed when the connection ends.
import { close, epollAdd, epollDel, epollMod, readRaw, writeRaw } from '../sys/libc.js';
import { EPOLLIN, EPOLLOUT } from '../sys/constants.js';
import { EAGAIN, errnoName } from '../sys/errno.js';
import type { Reply, Request } from './protocol.js';
import { encodeFrame, FrameDecoder, KEEPER_PROTOCOL, type Taken } from './wire.js';

const READ_BYTES = 64 * 1024;

export class SkiffdLink {
  private readonly decoder: FrameDecoder;
  private readonly buf = Buffer.allocUnsafe(READ_BYTES);
  /** fds named in a reply that skiffd has not taken yet */
  private readonly handover = new Set<number>();
  /** frames not yet written, in order */
  private out: Buffer[] = [];
  /** the socket was full: the rest goes once epoll says it is writable */
  private blocked = false;
  closed = false;

  /**
   * `fd`: the connection, this thread's own from now on; `data`: its epoll data in the
   * thread's set. Welcomes skiffd on it, which sends nothing else before the welcome.
   */
  constructor(
    private readonly fd: number,
    private readonly epfd: number,
    private readonly data: number,
    thread: number,
    private readonly on: { problem: (message: string) => void; closed: () => void },
  ) {
    this.decoder = new FrameDecoder(`skiffd → skiff-fwd-${thread}`);
    try {
      epollAdd(epfd, fd, EPOLLIN, data);
    } catch (err) {
      close(fd);
      throw err;
    }
    this.out.push(encodeFrame({ hello: KEEPER_PROTOCOL, thread }));
  }

  /** The connection's epoll events: what skiffd sent goes to `handle`, request by request. */
  service(events: number, handle: (req: Request) => void): void {
    if (events & EPOLLOUT) {
      this.blocked = false;
      epollMod(this.epfd, this.fd, EPOLLIN, this.data);
      this.flush();
    }
    while (!this.closed) {
      const n = readRaw(this.fd, this.buf);
      if (n === -EAGAIN) return;
      if (n <= 0) return this.close(n === 0 ? null : `read: ${errnoName(-n)}`);
      try {
        // The decoder keeps the bytes of a frame not yet whole: a copy, since buf is read into again.
        this.decoder.push(Buffer.from(this.buf.subarray(0, n)), (m) => {
          const req = m as Request | Taken;
          if (req.type === 'taken') this.taken(req.fds);
          else handle(req);
        });
      } catch (err) {
        return this.close((err as Error).message);
      }
      // A read that did not fill the buffer took all there was: the set is level-triggered, so
      // whatever comes next wakes this thread again. No read that only says EAGAIN, a koffi call
      // and a system call fewer per wake-up (most wake-ups bring one or two frames).
      if (n < READ_BYTES) return;
    }
  }

  /** Queues a reply; it is written by the next flush. */
  send(reply: Reply): void {
    if (this.closed) return;
    if (reply.type === 'opened' && reply.pipes) {
      for (const fd of [reply.pipes.stdin, reply.pipes.stdout, reply.pipes.stderr]) if (fd !== null) this.handover.add(fd);
    } else if (reply.type === 'attached') {
      this.handover.add(reply.fd);
    }
    this.out.push(encodeFrame(reply));
  }

  /** Writes what is queued, as far as the socket takes it. */
  flush(): void {
    if (this.closed || this.blocked || this.out.length === 0) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    const n = writeRaw(this.fd, bytes);
    if (n === bytes.length) {
      this.out = [];
      return;
    }
    if (n < 0 && n !== -EAGAIN) return this.close(`write: ${errnoName(-n)}`);
    this.out = [bytes.subarray(Math.max(n, 0))];
    this.blocked = true;
    epollMod(this.epfd, this.fd, EPOLLIN | EPOLLOUT, this.data);
  }

  /** Ends the connection (skiffd went away, or another connection replaces it): what skiffd never took is closed. */
  close(problem: string | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    if (problem !== null) this.on.problem(`the connection from skiffd: ${problem}; closing it`);
    epollDel(this.epfd, this.fd);
    close(this.fd);
    for (const fd of this.handover) close(fd);
    this.handover.clear();
    this.on.closed();
  }

  private taken(fds: number[]): void {
    // Only fds this thread handed over: a number skiffd got wrong must never close another fd.
    for (const fd of fds) if (this.handover.delete(fd)) close(fd);
  }
}
