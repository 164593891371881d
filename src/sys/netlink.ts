// A NETLINK_ROUTE socket: open, send one request, read the kernel's answers, close. The bytes
// are built elsewhere (src/net/rtnetlink.ts); this module only moves them.
//
// A socket belongs to the network namespace its creator was in when it was made, for its whole
// life. So a socket into a running container's namespace is made by entering that namespace on
// this thread (setns with the container's pidfd: no pid that could be recycled), creating the
// socket, and going straight back; nothing else runs on the thread meanwhile (it is synchronous).
import { EINTR, SysError } from './errno.js';
import { c, check, raw } from './libc-handle.js';
import { AF_NETLINK, CLONE_NEWNET, NETLINK_ROUTE, O_CLOEXEC, O_RDONLY, SOCK_CLOEXEC, SOCK_RAW } from './constants.js';

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

  /**
   * A socket in the network namespace of the process `pidfd` names, and an fd of that namespace
   * (what IFLA_NET_NS_FD takes). The caller closes both.
   */
  static inNetnsOf(pidfd: number, what: string): { socket: NetlinkSocket; nsfd: number } {
    const own = check(c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC), 'open', '/proc/thread-self/ns/net');
    try {
      check(c.setns(pidfd, CLONE_NEWNET), 'setns(CLONE_NEWNET)', what);
      let socket: NetlinkSocket | null = null;
      try {
        socket = new NetlinkSocket();
        const nsfd = check(c.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC), 'open', `/proc/thread-self/ns/net (${what})`);
        return { socket, nsfd };
      } catch (err) {
        socket?.close();
        throw err;
      } finally {
        // Back to skiffd's own namespace, whatever happened. If that ever failed, every socket
        // this thread made afterwards would be in the container's: there is no safe way on.
        if (raw(c.setns(own, CLONE_NEWNET)) < 0) {
          process.stderr.write(`skiffd: setns back to its own network namespace failed after ${what}: aborting\n`);
          process.abort();
        }
      }
    } finally {
      c.close(own);
    }
  }
}
