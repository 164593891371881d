// rtnetlink requests as bytes: links (bridge, veth), addresses, routes. Pure: no koffi, no
// I/O. skiffd sends them through src/net/rtnl-request.ts; a container's own are carried in its
// launch plan (netlink and host_netlink operations) and sent by launch.c, which only checks
// the ack. Every request asks for an ack (NLM_F_ACK), so a failure is an errno, never silence.
// Layouts are the kernel's uapi (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h), native
// endian (little on every machine skiff builds for).
import type { Ipv4 } from './ipv4.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
export const NLMSG_ERROR = 2;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const AF_UNSPEC = 0;
const AF_INET = 2;
export const IFF_UP = 0x1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_PID = 19;
const IFLA_NET_NS_FD = 28;
const IFLA_AF_SPEC = 26;
const AF_INET6 = 10;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_GATEWAY = 5;
const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

/** Linux's IFNAMSIZ less the NUL: an interface name is at most 15 bytes. */
export const IFNAME_MAX = 15;

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute (struct rtattr), padded to 4 bytes; `at` is where its payload starts in it. */
interface Attr { bytes: Buffer }

function attr(type: number, payload: Buffer): Attr {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return { bytes: b };
}

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
const str = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const nested = (type: number, children: Attr[]): Attr => attr(type, Buffer.concat(children.map((c) => c.bytes)));

/** struct ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
function ifinfomsg(index: number, up: boolean): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(AF_UNSPEC, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(up ? IFF_UP : 0, 8);
  b.writeUInt32LE(up ? IFF_UP : 0, 12);
  return b;
}

/** A whole request: struct nlmsghdr (length, type, flags, seq, port 0) then the body. */
function message(type: number, flags: number, seq: number, body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  const b = Buffer.alloc(16 + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK | flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  payload.copy(b, 16);
  return b;
}

export class NetlinkValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkValueError';
  }
}

export function checkIfname(name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || Buffer.byteLength(name) > IFNAME_MAX) {
    throw new NetlinkValueError(`interface name ${JSON.stringify(name)} is not 1 to ${IFNAME_MAX} letters, digits, _ . or -`);
  }
  return name;
}

/** "02:42:c6:12:00:02" → 6 bytes. */
export function macBytes(mac: string): Buffer {
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac)) throw new NetlinkValueError(`MAC address ${JSON.stringify(mac)} is not six lower-case hex pairs`);
  return Buffer.from(mac.replaceAll(':', ''), 'hex');
}

/** A bridge, created down (NLM_F_EXCL: an existing link of that name is EEXIST, never adopted silently). */
export function newBridge(seq: number, name: string): Buffer {
  return message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq, [
    ifinfomsg(0, false), attr(IFLA_IFNAME, str(checkIfname(name))).bytes, nested(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, str('bridge'))]).bytes,
  ]);
}

/** Sets a link up by index. */
export function linkUp(seq: number, index: number): Buffer {
  return message(RTM_NEWLINK, 0, seq, [ifinfomsg(index, true)]);
}


/**
 * No IPv6 link-local address on a link (addrgenmode none). skiff's networks are IPv4; a
 * link-local address would bring duplicate address detection, router solicitations and MLD
 * reports, multicast that the bridge floods to every other port: with hundreds of containers on
 * one bridge that flood fills the kernel's receive backlog and drops real packets (ARP replies).
 */
const noLinkLocal = (): Attr => nested(IFLA_AF_SPEC, [nested(AF_INET6, [attr(IFLA_INET6_ADDR_GEN_MODE, Buffer.from([IN6_ADDR_GEN_MODE_NONE]))])]);

/** Sets a link up by index and names it (a rename when the name differs). */
export function linkUpNamed(seq: number, index: number, name: string): Buffer {
  return message(RTM_NEWLINK, 0, seq, [ifinfomsg(index, true), attr(IFLA_IFNAME, str(checkIfname(name))).bytes]);
}

/**
 * Turns off IPv6 link-local addresses on a link that is still down (by index, or by name with
 * index 0). A request of its own, before the one that sets the link up: the kernel applies a
 * request's flags before its IFLA_AF_SPEC, so in one request the address would already exist.
 */
export function noLinkLocalOn(seq: number, index: number, name: string): Buffer {
  return message(RTM_NEWLINK, 0, seq, [ifinfomsg(index, false), attr(IFLA_IFNAME, str(checkIfname(name))).bytes, noLinkLocal().bytes]);
}

export function deleteLink(seq: number, name: string): Buffer {
  return message(RTM_DELLINK, 0, seq, [ifinfomsg(0, false), attr(IFLA_IFNAME, str(checkIfname(name))).bytes]);
}

/** Asks for one link by name; the answer is an RTM_NEWLINK whose ifinfomsg holds its index. */
export function getLink(seq: number, name: string): Buffer {
  return message(RTM_GETLINK, 0, seq, [ifinfomsg(0, false), attr(IFLA_IFNAME, str(checkIfname(name))).bytes]);
}

/**
 * A veth pair: `host` on the bridge `masterIndex` and up, in the sender's network namespace;
 * its peer `peer`, with `mac`, created directly in another process's network namespace (down:
 * the container brings it up). The pid is a placeholder: `pidOffset` says where launch.c's
 * host_netlink writes PID 1's pid. Creating the peer there (not moving it later) means a
 * failed launch leaves nothing behind: the namespace goes, and the pair with it.
 */
export function newVethIntoPid(seq: number, host: string, masterIndex: number, peer: string, mac: string): { message: Buffer; pidOffset: number } {
  const msg = newVeth(seq, host, masterIndex, peer, mac, IFLA_NET_NS_PID, 0);
  // The pid attribute is the last 8 bytes of the message: its payload the last 4.
  return { message: msg, pidOffset: msg.length - 4 };
}

/** The same pair with the peer created in the network namespace `nsfd` is open on (a running container's). */
export function newVethIntoNetns(seq: number, host: string, masterIndex: number, peer: string, mac: string, nsfd: number): Buffer {
  return newVeth(seq, host, masterIndex, peer, mac, IFLA_NET_NS_FD, nsfd);
}

function newVeth(seq: number, host: string, masterIndex: number, peer: string, mac: string, nsAttr: number, ns: number): Buffer {
  const peerInfo = attr(VETH_INFO_PEER, Buffer.concat([
    ifinfomsg(0, false), attr(IFLA_IFNAME, str(checkIfname(peer))).bytes, attr(IFLA_ADDRESS, macBytes(mac)).bytes,
    attr(nsAttr, u32(ns)).bytes,
  ]));
  const head = [ifinfomsg(0, true), attr(IFLA_IFNAME, str(checkIfname(host))).bytes, attr(IFLA_MASTER, u32(masterIndex)).bytes];
  const linkinfo = nested(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, str('veth')), nested(IFLA_INFO_DATA, [peerInfo])]);
  return message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq, [...head, linkinfo.bytes]);
}

/** An IPv4 address on a link: local and peer address the same, broadcast the subnet's. */
export function newAddress(seq: number, index: number, address: Ipv4, prefix: number, broadcast: Ipv4): Buffer {
  const ifa = Buffer.alloc(8);
  ifa.writeUInt8(AF_INET, 0);
  ifa.writeUInt8(prefix, 1);
  ifa.writeUInt32LE(index, 4);
  return message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, seq, [
    ifa, attr(IFA_LOCAL, address.bytes()).bytes, attr(IFA_ADDRESS, address.bytes()).bytes, attr(IFA_BROADCAST, broadcast.bytes()).bytes,
  ]);
}

/** The default route (0.0.0.0/0) through `gateway` on link `index`, in the main table. */
export function newDefaultRoute(seq: number, index: number, gateway: Ipv4): Buffer {
  const rtm = Buffer.alloc(12);
  rtm.writeUInt8(AF_INET, 0);
  rtm.writeUInt8(0, 1); // dst_len
  rtm.writeUInt8(RT_TABLE_MAIN, 4);
  rtm.writeUInt8(RTPROT_BOOT, 5);
  rtm.writeUInt8(RT_SCOPE_UNIVERSE, 6);
  rtm.writeUInt8(RTN_UNICAST, 7);
  return message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq, [rtm, attr(RTA_GATEWAY, gateway.bytes()).bytes, attr(RTA_OIF, u32(index)).bytes]);
}

/** What one answer to a request says: an ack (error 0 or -errno), or a link's index. */
export type Reply =
  | { kind: 'ack'; seq: number; errno: number }
  | { kind: 'link'; seq: number; index: number }
  | { kind: 'other'; seq: number; type: number };

/** Splits a datagram from the kernel into its messages. */
export function parseReplies(buf: Buffer): Reply[] {
  const out: Reply[] = [];
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < 16 || at + len > buf.length) break;
    const type = buf.readUInt16LE(at + 4);
    const seq = buf.readUInt32LE(at + 8);
    if (type === NLMSG_ERROR) out.push({ kind: 'ack', seq, errno: -buf.readInt32LE(at + 16) });
    else if (type === RTM_NEWLINK) out.push({ kind: 'link', seq, index: buf.readInt32LE(at + 16 + 4) });
    else out.push({ kind: 'other', seq, type });
    at += align4(len);
  }
  return out;
}
