// A NETLINK_ROUTE socket: open, send one request, read the kernel's answers, close. The bytes
// are built elsewhere (src/net/rtnetlink.ts); this module only moves them.
import { EINTR, SysError } from './errno.js';
import { c, check, raw } from './libc-handle.js';
import { AF_NETLINK, NETLINK_ROUTE, SOCK_CLOEXEC, SOCK_RAW } from './constants.js';

export class NetlinkSocket {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(64 * 1024);

  /** A socket in the calling thread's network namespace (skiffd's). */
  constructor() {
    this.fd = check(c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), 'socket(AF_NETLINK, NETLINK_ROUTE)');
  }

  send(message: Buffer, what: string): void {
    for (;;) {
      const n = raw(c.send(this.fd, message, message.length, 0));
      if (n === -EINTR) continue;
      if (n < 0) throw new SysError(`send ${what}`, -n);
      if (n !== message.length) throw new Error(`send ${what}: ${n} of ${message.length} bytes sent`);
      return;
    }
  }

  /** One datagram from the kernel (blocking: the kernel answers a request before send returns). */
  receive(what: string): Buffer {
    for (;;) {
      const n = raw(c.recv(this.fd, this.buf, this.buf.length, 0));
      if (n === -EINTR) continue;
      if (n < 0) throw new SysError(`recv ${what}`, -n);
      return Buffer.from(this.buf.subarray(0, n));
    }
  }

  close(): void {
    c.close(this.fd);
  }
}
