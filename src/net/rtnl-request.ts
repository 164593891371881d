// One rtnetlink request from skiffd and the kernel's answer: send, read until the ack of this
// request's sequence number, turn a negative ack into a SysError naming what was asked.
import { SysError } from '../sys/errno.js';
import { NetlinkSocket } from '../sys/netlink.js';
import { parseReplies } from './rtnetlink.js';

let seq = 1;

/**
 * skiffd's own socket, made on first use and kept: a request a start makes (the bridge's index)
 * then costs a send and a receive, not a socket's making and closing as well. Requests are
 * synchronous and skiffd has one thread doing them, so they never interleave; the socket joins
 * no multicast group, so nothing but answers ever arrives on it.
 */
let own: NetlinkSocket | null = null;

/** A sequence number for the next request (unique within skiffd: answers are matched by it). */
export const nextSeq = (): number => seq++;

/**
 * Sends a request and waits for its ack; returns the link index when the answer carries one.
 * Over `socket` when given (a container's namespace), else over skiffd's own.
 */
export function request(message: Buffer, what: string, socket?: NetlinkSocket): number | null {
  const s = socket ?? (own ??= new NetlinkSocket());
  const mySeq = message.readUInt32LE(8);
  s.send(message, what);
  let index: number | null = null;
  for (;;) {
    // An answer to an earlier request that failed half way has another sequence number: skipped.
    for (const r of parseReplies(s.receive(what))) {
      if (r.seq !== mySeq) continue;
      if (r.kind === 'link') index = r.index;
      if (r.kind === 'ack') {
        if (r.errno !== 0) throw new SysError(what, r.errno);
        return index;
      }
    }
  }
}
