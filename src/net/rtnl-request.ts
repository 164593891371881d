// One rtnetlink request from skiffd and the kernel's answer: send, read until the ack of this
// request's sequence number, turn a negative ack into a SysError naming what was asked.
import { SysError } from '../sys/errno.js';
import { NetlinkSocket } from '../sys/netlink.js';
import { parseReplies } from './rtnetlink.js';

let seq = 1;

/** A sequence number for the next request (unique within skiffd: answers are matched by it). */
export const nextSeq = (): number => seq++;

/**
 * Sends a request and waits for its ack; returns the link index when the answer carries one.
 * Over `socket` when given (a container's namespace), else a socket of skiffd's own, made and
 * closed here.
 */
export function request(message: Buffer, what: string, socket?: NetlinkSocket): number | null {
  const s = socket ?? new NetlinkSocket();
  try {
    const mySeq = message.readUInt32LE(8);
    s.send(message, what);
    let index: number | null = null;
    for (;;) {
      for (const r of parseReplies(s.receive(what))) {
        if (r.seq !== mySeq) continue;
        if (r.kind === 'link') index = r.index;
        if (r.kind === 'ack') {
          if (r.errno !== 0) throw new SysError(what, r.errno);
          return index;
        }
      }
    }
  } finally {
    if (!socket) s.close();
  }
}
